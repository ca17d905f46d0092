"""A rate limit shared by every process: GCRA (a leaky bucket kept as one timestamp) in Redis.

Each `acquire` asks for one slot; it answers 0 when the caller may go now, else how many seconds
to wait before asking again. The clock is Redis's own, so hosts with skewed clocks agree.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import redis as redis_lib

# KEYS[1]: the bucket; ARGV[1]: microseconds between two sends; ARGV[2]: burst in microseconds.
# The stored value is the theoretical arrival time (TAT) of the next send.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - burst - now
if wait > 0 then return wait end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
"""


class RateLimiter:
    """`per_second` sends per second for each bucket name, bursts of up to `burst` sends."""

    def __init__(self, redis: redis_lib.Redis, key_for: Callable[[str], str], per_second: float, burst: int = 1):
        self.key_for = key_for
        self.interval_us = int(1_000_000 / per_second)
        self.burst_us = self.interval_us * max(burst - 1, 0)
        self._script = redis.register_script(_GCRA)

    def acquire(self, bucket: str) -> float:
        """0 when a slot was taken, else the seconds to wait before asking again."""
        wait_us = int(self._script(keys=[self.key_for(bucket)], args=[self.interval_us, self.burst_us]))
        return wait_us / 1_000_000

    def wait(self, bucket: str, deadline: float) -> bool:
        """Blocks until a slot is taken (True) or `deadline` (time.monotonic) passes (False)."""
        while True:
            pause = self.acquire(bucket)
            if pause == 0:
                return True
            if time.monotonic() + pause > deadline:
                return False
            time.sleep(pause)
