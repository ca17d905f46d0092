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
from collections.abc import Sequence
from typing import NamedTuple

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


class Checked(NamedTuple):
    same_body: bool  # the first body seen with this (timestamp, nonce), or that body again
    note_follow: bool  # the sender's following still needs recording
    prefetched: list[bytes | None] | None  # the values of `prefetch`'s keys; None when Redis failed


def check(redis, timestamp: str, nonce: str, body: bytes, follower: str | None,
          prefetch: Sequence[str] = ()) -> Checked:
    """The replay check and, in the same Redis round trip, whether `follower`'s following still
    needs recording, and the values of the `prefetch` keys (what the answer will read: a menu
    click's cached overview), so that a click costs Redis one round trip.

    The second answer is what keeps a menu click from writing to the database each time: once
    recorded, an OpenID is not recorded again for FOLLOW_SEEN_TTL_S. Only a message or event
    from the OpenID itself sets it; an unfollow can't be followed by such a message without a
    `subscribe` in between, which records the follow directly."""
    digest = hashlib.sha256(body).hexdigest()[:32].encode()
    nonce_key = keys.callback_nonce(timestamp, nonce)
    try:
        if follower:
            # One command: a script, not a pipeline, costs the callback the least.
            stored, first_note, values = redis.command("EVAL", _CHECK, 2 + len(prefetch), nonce_key,
                                                       keys.follow_seen(follower), *prefetch, digest, BINDING_TTL_S,
                                                       FOLLOW_SEEN_TTL_S)
        else:
            stored, first_note = redis.set(nonce_key, digest, nx=True, get=True, ex=BINDING_TTL_S), None
            values = None
    except redis_lib.RedisError:
        return Checked(True, follower is not None, None)
    return Checked(stored is None or stored == digest, first_note is not None, values)


# SET NX GET claims the (timestamp, nonce) pair or returns the digest it holds; the second SET NX
# says whether the sender's following was recorded lately; the MGET reads the remaining keys (an
# empty table when there are none). Lua's false comes back as None.
_CHECK = """
local stored = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'GET', 'EX', ARGV[2])
local first = redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3])
local values = {}
if #KEYS > 2 then values = redis.call('MGET', unpack(KEYS, 3)) end
return {stored, first, values}
"""
