"""Database habits shared by the services: one transaction helper, typed tables, changed-row counts."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import CursorResult, Executable, Table
from sqlalchemy.orm import Session

from models import Base


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
