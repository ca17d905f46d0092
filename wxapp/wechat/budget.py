"""The callback's Redis: short timeouts, and after one failure no further Redis call in that request.

WeChat gives a callback 5 s. With the app's usual client (2 s socket timeout) a hung Redis cost
each call 2 s, and a subscribe made three. Here each call may wait `TIMEOUT_S` once; the first
error marks the request's budget spent and every later call fails at once, so the answer goes on
without Redis: reads from the database, effects without retry dedup (harmless twice, see dedup).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis as redis_lib
from redis.backoff import NoBackoff
from redis.retry import Retry

from wxapp.logs import kv

log = logging.getLogger(__name__)

TIMEOUT_S = 0.5


def callback_client(url: str) -> redis_lib.Redis:
    """A Redis client for callbacks on one connection of its own: one try per call, each
    bounded by TIMEOUT_S."""
    return redis_lib.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S,
                                    retry=Retry(NoBackoff(), 0), health_check_interval=0,
                                    single_connection_client=True)


class ThreadClients:
    """One callback client per server thread, each holding its own connection.

    A pooled client takes a connection from the pool and gives it back on every command: ~15 µs
    of the ~85 µs redis-py spends on a command here, and a warm menu click makes one command. A
    server thread answers one request at a time, so a connection of its own never waits."""

    def __init__(self, url: str):
        self.url = url
        self._local = threading.local()

    def get(self) -> redis_lib.Redis:
        client: redis_lib.Redis | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = callback_client(self.url)
        elif client.connection is not None:
            _renew_if_closed(client.connection)
        return client


def _renew_if_closed(connection) -> None:
    """What a pool does before lending a connection: one that Redis closed meanwhile (a restart,
    its idle `timeout`) reads as ready, or fails to; then it is dropped, and the next command
    opens a fresh one. A poll of the socket, a few µs; without it the first callback of each
    thread after a Redis restart went on without Redis, its replay check skipped."""
    if not connection.is_connected:
        return  # not connected: the next command connects
    try:
        closed = connection.can_read(timeout=0)
    except (redis_lib.RedisError, OSError):
        closed = True
    if closed:
        connection.disconnect()


class Spent(redis_lib.ConnectionError):
    """Raised instead of calling Redis once an earlier call of the same callback failed."""


class BudgetRedis:
    """One callback's view of Redis: every command of the client `connect` gives, until the
    first failure (connecting included: a client on a connection of its own connects when made)."""

    def __init__(self, connect: Callable[[], redis_lib.Redis]):
        self._connect = connect
        self._client: redis_lib.Redis | None = None
        self.failed: str | None = None

    def _get_client(self) -> redis_lib.Redis:
        if self._client is None:
            self._client = self.run(self._connect)
        return self._client

    def __getattr__(self, name: str):
        if name == "pipeline":
            return lambda *a, **kw: _BudgetPipeline(self, self._get_client().pipeline(*a, **kw))
        return lambda *a, **kw: self.run(getattr(self._get_client(), name), *a, **kw)

    def command(self, *args):
        """One command sent straight on the client's own connection, its reply as Redis gives it
        (no reply callback). This skips what redis-py wraps around every command (retries, none
        here; metrics; reply parsing): ~20 µs of the callback's ~80 µs for its one command.
        Whatever goes wrong between sending and reading drops the connection, as the client would
        (the connection itself does on a timeout): a late reply must never be read as the answer
        to the next command."""
        connection = self._get_client().connection
        assert connection is not None  # callback_client: a connection of its own

        def send_and_read():
            try:
                connection.send_command(*args)
                return connection.read_response()
            except redis_lib.ResponseError:
                raise  # Redis answered with an error: the connection is in step
            except BaseException:
                connection.disconnect()
                raise

        return self.run(send_and_read)

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
