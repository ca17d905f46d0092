"""How long an answer may wait on PostgreSQL: a deadline per request, and every wait bounded by it.

A `statement_timeout` is enforced by the server: a SIGSTOPped or unreachable server enforces
nothing, and TCP keepalives are answered by a stopped server's kernel. So the client bounds its own
waits. Each request runs under a deadline (`limit`): a page's DATABASE_REQUEST_BUDGET_S, the WeChat
callback's well inside WeChat's 5 s, /healthz's inside 2 s. Every wait of psycopg on the server
(connecting, a statement, a commit, the pool's rollback) ends by it. A wait that runs out closes
its connection (its state on the server is unknown; the pool drops it) and spends the budget:
every later wait of the same request fails at once, so the answer goes on without the database,
as the callback's Redis budget does (wxapp/wechat/budget.py). A rollback that can't be sent
closes the connection instead: the server rolls back a closed connection's transaction.

A pooled connection that the server closed meanwhile (a restart, `pg_terminate_backend`) is
dropped when it is checked out, by a poll of its socket: no round trip, where `pool_pre_ping`
would add one to every request; the pool then lends a fresh connection.

Outside a `limit` (the scheduler, the CLI) psycopg waits as it always does.
"""
from __future__ import annotations

import select
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from time import monotonic

import psycopg
from flask import Flask
from psycopg import errors
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

from wxapp import config

# A wait that starts after the deadline, the budget not yet spent (the request was slow, not the
# database), still gets this long: enough for a healthy server, too short to hang on a stopped one.
# A page (a long console import) gets more: its commit must not be cut off for a slow start.
LATE_WAIT_S = 0.2
PAGE_LATE_WAIT_S = 1.0
_WAIT_INTERVAL = 0.1  # psycopg's: how often a wait wakes up (Ctrl-C, and our deadline on connect)


class OutOfTime(psycopg.OperationalError):
    """The database did not answer within the request's budget, or the budget was spent before."""


@dataclass
class Budget:
    deadline: float
    late_s: float = LATE_WAIT_S
    spent: str | None = None

    def left(self) -> float | None:
        """Seconds a wait may take now; None once spent."""
        if self.spent:
            return None
        return max(self.deadline - monotonic(), self.late_s)

    def spend(self, why: str) -> None:
        self.spent = self.spent or why


_current: ContextVar[Budget | None] = ContextVar("db_budget", default=None)


@contextmanager
def limit(seconds: float, late_s: float = LATE_WAIT_S) -> Iterator[Budget]:
    """Waits on the database within the block end `seconds` from now (or at the enclosing limit's
    deadline, if sooner). The block's budget is its own: spent inside, the enclosing one is not."""
    deadline = monotonic() + seconds
    outer = _current.get()
    if outer is not None:
        deadline = min(deadline, outer.deadline)
    budget = Budget(deadline, late_s)
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def current() -> Budget | None:
    return _current.get()


class BoundedConnection(psycopg.Connection):
    """A psycopg connection whose every wait on the server ends by the current budget's deadline."""

    def wait(self, gen, interval: float = _WAIT_INTERVAL, timeout: float | None = None):
        budget = _current.get()
        if budget is None:
            return super().wait(gen, interval, timeout)
        left = budget.left()
        if left is None:
            gen.close()
            self.close()
            raise OutOfTime(f"database skipped for the rest of the request ({budget.spent})")
        if timeout is not None and timeout <= left:
            return super().wait(gen, interval, timeout)  # psycopg's own, shorter timeout
        try:
            return super().wait(gen, interval, left)
        except errors._WaitTimeout:
            budget.spend("no answer in time")
            self.close()
            raise OutOfTime("the database did not answer within the request's budget") from None

    def rollback(self) -> None:
        try:
            super().rollback()
        except OutOfTime:
            pass  # closed: the server rolls the transaction back itself

    @classmethod
    def _connect_gen(cls, conninfo: str = ""):
        gen = super()._connect_gen(conninfo)
        budget = _current.get()
        return gen if budget is None else _until_deadline(gen, budget)


def _until_deadline(gen, budget: Budget):
    """The connect generator, given up when the budget's deadline passes (psycopg's own
    connect_timeout can't be shorter than 2 s)."""
    left = budget.left()
    if left is None:
        gen.close()
        raise OutOfTime(f"database skipped for the rest of the request ({budget.spent})")
    deadline = monotonic() + left
    try:
        step = next(gen)
        while True:
            ready = yield step
            if monotonic() >= deadline:
                gen.close()
                budget.spend("no connection in time")
                raise OutOfTime("no connection to the database within the request's budget")
            step = gen.send(ready)
    except StopIteration as done:
        return done.value


def closed_by_server(connection: psycopg.Connection) -> bool:
    """An idle connection has nothing to read: readable (an EOF, the server's FATAL before it
    closed) or in error means the server has gone from the other end."""
    if connection.closed:
        return True
    poll = select.poll()
    poll.register(connection.pgconn.socket, select.POLLIN | select.POLLPRI)
    return bool(poll.poll(0))


def _connect(dialect, connection_record, cargs, cparams):
    return BoundedConnection.connect(*cargs, **cparams)


def _check_out(dbapi_connection, connection_record, connection_proxy) -> None:
    if isinstance(dbapi_connection, psycopg.Connection) and closed_by_server(dbapi_connection):
        raise DisconnectionError("the server closed this pooled connection")  # the pool takes another


def guard_engine(engine: Engine) -> None:
    """Bounded waits and dead pooled connections dropped, on a PostgreSQL (psycopg) engine."""
    if engine.dialect.driver != "psycopg":
        return
    event.listen(engine, "do_connect", _connect)
    event.listen(engine, "checkout", _check_out)


class RequestLimit:
    """WSGI middleware: each request's waits on the database end within `seconds` of its start."""

    def __init__(self, wsgi_app: Callable, seconds: float):
        self.wsgi_app, self.seconds = wsgi_app, seconds

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        with limit(self.seconds, PAGE_LATE_WAIT_S):
            return self.wsgi_app(environ, start_response)


def install(app: Flask, engine: Engine) -> None:
    guard_engine(engine)
    app.wsgi_app = RequestLimit(app.wsgi_app, config.of(app).database_request_budget_s)
