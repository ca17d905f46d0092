"""What the chat answers when the database can't be reached in time: what needs no database.

A trainee who taps a menu button or types a keyword learns that the service is briefly unavailable
and how to reach the school; a new follower still gets the welcome with the binding link; an
event that needs no answer gets none (`success`).
"""
from __future__ import annotations

from handlers import texts
from handlers.replies import Reply, Text
from handlers.router import Context, Message

SUBSCRIBE = frozenset({"subscribe", "subscribe_scan"})


def unavailable(message: Message, ctx: Context) -> Reply | None:
    event = str(getattr(message, "event", "") or "").lower()
    if message.type == "event" and event in SUBSCRIBE:
        return Text(texts.welcome_new(ctx))
    if message.type == "text" or (message.type == "event" and event == "click"):
        return Text(texts.unavailable(ctx))
    return None
