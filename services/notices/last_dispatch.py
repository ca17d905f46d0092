"""When the outbox was last dispatched: written by the scheduler's dispatch job after each run,
read by `/healthz?scheduler=1`, the console's dashboard and the metrics.

The dispatch runs every few seconds while a scheduler leads; a record older than STALE_AFTER
means no scheduler is dispatching (stopped, or waiting for the database), and notices wait.
Kept in Redis: lost with it, it is written again by the next run.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import redis as redis_lib

from services import keys
from services.redis_tools import text
from services.timeutil import moment

STALE_AFTER = timedelta(minutes=2)


def mark(redis: redis_lib.Redis, now: datetime) -> None:
    redis.set(keys.dispatch_last_run(), f"{now.timestamp():.3f}")


def read(redis: redis_lib.Redis) -> datetime | None:
    """The last run's end, None when none is recorded."""
    raw = text(redis.get(keys.dispatch_last_run()))
    try:
        return moment(float(raw)) if raw else None
    except ValueError:
        return None


def stale(last: datetime | None, now: datetime) -> bool:
    """Whether the outbox has gone undispatched too long (never dispatched counts)."""
    return last is None or now - last > STALE_AFTER
