"""The audit log of the staff console: `record` adds who did what to what, in the caller's
transaction, so that a change and its record are committed together or not at all."""
from __future__ import annotations

from sqlalchemy.orm import Session

from models import AuditEntry


def record(session: Session, actor: str, action: str, target: str = "", detail: str = "") -> AuditEntry:
    """Adds an entry; the caller commits it with the change it describes."""
    entry = AuditEntry(actor=actor[:64], action=action[:48], target=target[:100], detail=detail[:500])
    session.add(entry)
    return entry
