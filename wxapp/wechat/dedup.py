"""WeChat retries a delivery it got no answer for within 5 s (3 tries): each has its effect once.

The first delivery claims the key; a retry gets the reply the first one stored, or `success`
while the first is still being answered. Only handlers with an effect go through here: a pure
(read-only) answer is simply computed again for a retry. If Redis is unreachable the message is handled
anyway: a rare double effect is better than a trainee left without an answer. So every handler with
an effect must be harmless twice, as subscribe, unsubscribe and TEMPLATESENDJOBFINISH are (each sets
a state, and the job report changes only a row still `sent`).
"""
from __future__ import annotations

import logging

import redis as redis_lib

from services import keys
from wxapp.logs import kv
from wxapp.wechat.budget import BudgetRedis

log = logging.getLogger(__name__)

SEEN_TTL_S = 300  # WeChat's three tries span about 15 s; keep a wide margin.
PENDING = b"\x00pending"


def delivery_key(fields: dict) -> str:
    sender = fields.get("FromUserName") or ""
    if fields.get("MsgType") == "event":
        return keys.callback_dedup(
            "event", sender, fields.get("CreateTime") or "", fields.get("Event") or "",
            fields.get("EventKey") or "",
            # Two TEMPLATESENDJOBFINISH of one trainee within a second differ only by MsgID.
            *([fields["MsgID"]] if fields.get("MsgID") else []),
        )
    return keys.callback_dedup("msg", sender, fields.get("MsgId") or fields.get("CreateTime") or "")


def claim(redis: BudgetRedis, key: str) -> tuple[bool, bytes | None]:
    """(True, None) for a first delivery; (False, stored reply or None) for a retry."""
    try:
        # One round trip: SET NX GET (Redis >= 7) claims the key or returns what it holds.
        stored = redis.set(key, PENDING, nx=True, get=True, ex=SEEN_TTL_S)
    except redis_lib.RedisError as exc:
        log.warning(kv("wechat_dedup_unavailable", error=type(exc).__name__))
        return True, None
    if stored is None:
        return True, None
    return False, None if stored == PENDING else stored


def remember(redis: BudgetRedis, key: str, reply: bytes) -> None:
    try:
        redis.set(key, reply, ex=SEEN_TTL_S)
    except redis_lib.RedisError as exc:
        log.warning(kv("wechat_dedup_unavailable", error=type(exc).__name__))
