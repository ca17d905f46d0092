"""The audit log of the staff console: `record` adds who did what to what, in the caller's
transaction, so that a change and its record are committed together or not at all."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import AuditEntry

PAGE_SIZE = 50


def record(session: Session, actor: str, action: str, target: str = "", detail: str = "") -> AuditEntry:
    """Adds an entry; the caller commits it with the change it describes."""
    entry = AuditEntry(actor=actor[:64], action=action[:48], target=target[:100], detail=detail[:500])
    session.add(entry)
    return entry


def page(session: Session, number: int, actor: str = "", action: str = "") -> tuple[list[AuditEntry], int]:
    """One page of entries, newest first, and the total count, optionally of one actor or action."""
    where = [c for c in ((AuditEntry.actor == actor) if actor else None,
                         (AuditEntry.action == action) if action else None) if c is not None]
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    rows = session.scalars(select(AuditEntry).where(*where).order_by(AuditEntry.id.desc())
                           .offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return list(rows), total
