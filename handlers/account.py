"""Following and unfollowing the account."""
from __future__ import annotations

from handlers import router, texts
from handlers.replies import Text
from services.identity import followers
from services.timeutil import utcnow


@router.event("subscribe", "subscribe_scan")
def subscribed(message, ctx):
    trainee = followers.record_subscribe(ctx.session, ctx.openid, utcnow())
    if trainee is None:
        return Text(texts.welcome_new(ctx))
    return Text(texts.welcome_back(ctx, trainee.name))


@router.event("unsubscribe")
def unsubscribed(message, ctx):
    followers.record_unsubscribe(ctx.session, ctx.openid, utcnow())
    return None
