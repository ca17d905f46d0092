"""Following and unfollowing the account, and WeChat's reports on the template messages sent."""
from __future__ import annotations

import logging

from handlers import texts
from handlers.replies import Reply, Text
from handlers.router import Context, Message, router
from services.identity import followers
from services.logfmt import kv
from services.notices import job_reports, outbox
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


@router.event("templatesendjobfinish", repeatable=True)
def template_job_finished(message: Message, ctx: Context) -> Reply | None:
    """WeChat's report on a template message: delivered (queued, recorded in batches by the
    scheduler: services.notices.job_reports), or refused (recorded now: then the SMS goes out)."""
    msgid, status = str(message.id), str(message.status or "")
    state: str | None
    if status == "success" and job_reports.queue(ctx.redis, msgid, utcnow()):
        state = "queued"
    else:
        state = outbox.record_job_finish(ctx.session, msgid, status, utcnow())
    log.info(kv("template_job_finished", msgid=msgid, status=status.replace(" ", "_"), outbox_state=state))
    return None
