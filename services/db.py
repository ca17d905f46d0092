"""Database habits shared by the services: one transaction helper, typed tables, changed-row counts."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import CursorResult, Executable, Table, func, select
from sqlalchemy.orm import Session

from models import Base
from services.timeutil import utcnow


@contextmanager
def transaction(session: Session, commit: bool = True) -> Iterator[Session]:
    """Commits what the block did (rolls it back instead with `commit=False`: a dry run whose report
    is all that counts); on any exception (Ctrl-C included) rolls it back and re-raises."""
    try:
        yield session
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise


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
