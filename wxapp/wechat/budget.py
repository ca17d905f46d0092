"""The callback's Redis: short timeouts, and after one failure no further Redis call in that request.

WeChat gives a callback 5 s. With the app's usual client (2 s socket timeout) a hung Redis cost
each call 2 s, and a subscribe made three. Here each call may wait `TIMEOUT_S` once; the first
error marks the request's budget spent and every later call fails at once, so the answer goes on
without Redis: reads from the database, effects without retry dedup (harmless twice, see dedup).
"""
from __future__ import annotations

import logging

import redis as redis_lib
from redis.backoff import NoBackoff
from redis.retry import Retry

from wxapp.logs import kv

log = logging.getLogger(__name__)

TIMEOUT_S = 0.5


def callback_client(url: str) -> redis_lib.Redis:
    """The process's Redis client for callbacks: one try per call, each bounded by TIMEOUT_S."""
    return redis_lib.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S,
                                    retry=Retry(NoBackoff(), 0), health_check_interval=0)


class Spent(redis_lib.ConnectionError):
    """Raised instead of calling Redis once an earlier call of the same callback failed."""


class BudgetRedis:
    """One callback's view of Redis: every command of `client`, until the first failure."""

    def __init__(self, client: redis_lib.Redis):
        self._client = client
        self.failed: str | None = None

    def __getattr__(self, name: str):
        attr = getattr(self._client, name)
        if name == "pipeline":
            return lambda *a, **kw: _BudgetPipeline(self, attr(*a, **kw))
        if not callable(attr):
            return attr
        return lambda *a, **kw: self.run(attr, *a, **kw)

    def run(self, call, *args, **kwargs):
        if self.failed:
            raise Spent(f"Redis failed earlier in this callback ({self.failed})")
        try:
            return call(*args, **kwargs)
        except redis_lib.RedisError as exc:
            self.failed = type(exc).__name__
            log.warning(kv("wechat_redis_unavailable", error=self.failed))
            raise


class _BudgetPipeline:
    """A pipeline whose `execute` (its only network call) counts against the budget."""

    def __init__(self, budget: BudgetRedis, pipe):
        self._budget, self._pipe = budget, pipe

    def __getattr__(self, name: str):
        return getattr(self._pipe, name)

    def execute(self, *args, **kwargs):
        try:
            return self._budget.run(self._pipe.execute, *args, **kwargs)
        finally:
            self._pipe.reset()
