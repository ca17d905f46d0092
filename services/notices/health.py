"""Is the outbox being dispatched: the scheduler stamps each run, the dashboard and /metrics read it."""
from __future__ import annotations

import time

import redis as redis_lib

from services import keys

# The stamp outlives many runs (every 10 s): a key gone means no scheduler for a day, not "never".
STAMP_TTL_S = 24 * 3600


def record_dispatch_run(redis: redis_lib.Redis, at: float | None = None) -> None:
    redis.set(keys.dispatch_last_run(), f"{time.time() if at is None else at:.3f}", ex=STAMP_TTL_S)


def dispatch_last_run(redis: redis_lib.Redis) -> float | None:
    raw = redis.get(keys.dispatch_last_run())
    return float(raw) if raw is not None else None
