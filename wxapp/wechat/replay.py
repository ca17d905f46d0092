"""Callbacks that can't be replayed: a fresh timestamp, and each (timestamp, nonce) bound to one body.

In plaintext mode the signature covers only token + timestamp + nonce, never the body, and a
proxy's access log may keep all three. So a signed query is accepted only within MAX_SKEW_S of
the server's clock, and only with the body it first came with: WeChat's own retry of the same
body passes (its effect is then deduplicated as before), a forged body under a leaked query is
refused. The binding lives in Redis for the whole window; with Redis down it is skipped (the
timestamp window still holds) rather than refusing WeChat.
"""
from __future__ import annotations

import hashlib

import redis as redis_lib

from services import keys

MAX_SKEW_S = 300
# A timestamp is fresh for MAX_SKEW_S either side of the clock: keep its binding that long after.
BINDING_TTL_S = 2 * MAX_SKEW_S + 60
FOLLOW_SEEN_TTL_S = 6 * 3600


def fresh(timestamp: str, now: float) -> bool:
    try:
        return abs(int(timestamp) - now) <= MAX_SKEW_S
    except ValueError:
        return False


def check(redis, timestamp: str, nonce: str, body: bytes, follower: str | None) -> tuple[bool, bool]:
    """(whether `body` is the first body seen with this (timestamp, nonce) or that body again,
    whether `follower`'s following still needs recording), in one Redis round trip.

    The second answer is what keeps a menu click from writing to the database each time: once
    recorded, an OpenID is not recorded again for FOLLOW_SEEN_TTL_S. Only a message or event
    from the OpenID itself sets it; an unfollow can't be followed by such a message without a
    `subscribe` in between, which records the follow directly."""
    digest = hashlib.sha256(body).hexdigest()[:32].encode()
    pipe = redis.pipeline(transaction=False)
    # SET NX GET claims the pair, or returns the digest it holds.
    pipe.set(keys.callback_nonce(timestamp, nonce), digest, nx=True, get=True, ex=BINDING_TTL_S)
    if follower:
        pipe.set(keys.follow_seen(follower), b"1", nx=True, ex=FOLLOW_SEEN_TTL_S)
    try:
        answers = pipe.execute()
    except redis_lib.RedisError:
        return True, follower is not None
    stored = answers[0]
    return stored is None or stored == digest, bool(follower) and answers[1] is True
