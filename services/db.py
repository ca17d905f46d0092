"""Database habits shared by the services: one transaction helper, typed tables, changed-row counts."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import CursorResult, Executable, Table, func, select
from sqlalchemy.orm import Session

from models import Base
from services.errors import ServiceError
from services.timeutil import utcnow

M = TypeVar("M", bound=Base)

_DEPTH = "transaction_depth"  # session.info key: how many transaction() blocks are open

log = logging.getLogger(__name__)


@contextmanager
def transaction(session: Session, commit: bool = True) -> Iterator[Session]:
    """Commits what the block did (rolls it back instead with `commit=False`: a dry run whose report
    is all that counts); on any exception (Ctrl-C included) rolls it back and re-raises.

    Blocks nest: only the outermost commits or rolls back, so a staff action can run a service that
    owns its own transaction and add its audit row, and both are committed together or not at all.
    """
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        yield session
        if depth == 0 and commit:
            session.commit()
        elif depth == 0:
            session.rollback()
    except BaseException:
        if depth == 0:
            session.rollback()
        raise
    finally:
        session.info[_DEPTH] = depth


def discard(session: Session) -> None:
    """Ends what a failed request left open (reads, or a transaction the database aborted) so that
    its error answer reads from a clean session; a connection already gone is left to the pool,
    which replaces it on next use. The error handlers' one way to roll back."""
    try:
        session.rollback()
    except Exception:
        log.debug("rollback_failed", exc_info=True)


def found(session: Session, model: type[M], id_: int, message: str, error: type[ServiceError] = ServiceError) -> M:
    """The row of `model` with this id, or `error(message)` with status 404: what a staff action
    names by id (a page or a command) may be gone by the time it runs."""
    row = session.get(model, id_)
    if row is None:
        raise error(message, status=404)
    return row


def affected(session: Session, statement: Executable) -> int:
    """How many rows an UPDATE or DELETE changed (the ORM types execute() as a plain Result)."""
    result = session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount


def table_of(model: type[Base]) -> Table:
    """A mapped class's Table, for Core statements (the ORM types `__table__` as any FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def database_now(session: Session) -> datetime:
    """The database server's clock (UTC, aware): the one clock every host agrees on, for what
    must not depend on a host's clock (exam deadlines). SQLite runs in this process: its clock is ours."""
    if session.get_bind().dialect.name != "postgresql":
        return utcnow()
    now = session.scalar(select(func.now()))
    session.commit()  # end the read: the caller's own transactions start fresh
    assert isinstance(now, datetime)
    return now.astimezone(UTC)
