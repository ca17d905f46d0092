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


def fresh(timestamp: str, now: float) -> bool:
    try:
        return abs(int(timestamp) - now) <= MAX_SKEW_S
    except ValueError:
        return False


def same_body(redis, timestamp: str, nonce: str, body: bytes) -> bool:
    """True for the first body seen with this (timestamp, nonce) and for that same body again."""
    digest = hashlib.sha256(body).hexdigest()[:32].encode()
    try:
        # One round trip: SET NX GET claims the pair, or returns the digest it holds.
        stored = redis.set(keys.callback_nonce(timestamp, nonce), digest, nx=True, get=True, ex=BINDING_TTL_S)
    except redis_lib.RedisError:
        return True
    return stored is None or stored == digest
