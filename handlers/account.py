"""Following and unfollowing the account, and WeChat's reports on the template messages sent."""
from __future__ import annotations

import logging

from handlers import texts
from handlers.replies import Reply, Text
from handlers.router import Context, Message, router
from services.identity import followers
from services.logfmt import kv
from services.notices import outbox
from services.timeutil import utcnow

log = logging.getLogger(__name__)


@router.event("subscribe", "subscribe_scan")
def subscribed(message: Message, ctx: Context) -> Reply | None:
    trainee = followers.record_subscribe(ctx.session, ctx.openid, utcnow())
    if trainee is None:
        return Text(texts.welcome_new(ctx))
    return Text(texts.welcome_back(ctx, trainee.name))


@router.event("unsubscribe")
def unsubscribed(message: Message, ctx: Context) -> Reply | None:
    followers.record_unsubscribe(ctx.session, ctx.openid, utcnow())
    return None


@router.event("templatesendjobfinish")
def template_job_finished(message: Message, ctx: Context) -> Reply | None:
    """WeChat's report on a template message: delivered, or refused (then the SMS goes out)."""
    state = outbox.record_job_finish(ctx.session, str(message.id), str(message.status or ""), utcnow())
    log.info(kv("template_job_finished", msgid=message.id, status=str(message.status or "").replace(" ", "_"),
                outbox_state=state))
    return None
