"""Staff console sessions kept on the server (CONTRACT §9): a login opens one, logout ends it, a
password change ends the account's other sessions, disabling the account ends them all.

The browser's cookie holds a random token; the table holds its SHA-256 only. Every console request
looks the token up: an ended session, one idle longer than `IDLE_S`, or one of a disabled account
loads nobody, whatever cookie is replayed.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from models import StaffSession, StaffUser
from services.db import transaction

IDLE_S = 8 * 3600
TOUCH_S = 300  # `seen_at` is written at most this often per session (not on every request)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user_id: int, now: datetime) -> str:
    """A new session of the account, added to the caller's transaction; returns its token. The
    account's ended and long-idle rows are dropped on the way (the table stays small)."""
    session.execute(delete(StaffSession).where(
        StaffSession.staff_user_id == user_id,
        or_(StaffSession.ended_at.is_not(None), StaffSession.seen_at < now - timedelta(seconds=IDLE_S))))
    token = secrets.token_urlsafe(32)
    session.add(StaffSession(token_hash=_digest(token), staff_user_id=user_id, created_at=now, seen_at=now))
    return token


def user_of(session: Session, token: str, now: datetime) -> StaffUser | None:
    """The active account whose live session this token is, or None (ended, idle, disabled, unknown)."""
    if not token or len(token) > 100:
        return None
    found = session.execute(
        select(StaffSession, StaffUser).join(StaffUser, StaffUser.id == StaffSession.staff_user_id)
        .where(StaffSession.token_hash == _digest(token))).first()
    if found is None:
        return None
    row, user = found
    if row.ended_at is not None or not user.active or row.seen_at < now - timedelta(seconds=IDLE_S):
        return None
    if row.seen_at < now - timedelta(seconds=TOUCH_S):
        with transaction(session):
            row.seen_at = now
    return user


def end(session: Session, token: str, now: datetime) -> None:
    """Logout: the session of this token ends for good."""
    with transaction(session):
        session.execute(update(StaffSession).where(StaffSession.token_hash == _digest(token),
                                                   StaffSession.ended_at.is_(None)).values(ended_at=now))


def end_all(session: Session, user_id: int, now: datetime, keep_token: str = "") -> None:
    """Ends every session of the account but the one of `keep_token`, in the caller's transaction."""
    session.execute(update(StaffSession).where(
        StaffSession.staff_user_id == user_id, StaffSession.ended_at.is_(None),
        StaffSession.token_hash != _digest(keep_token)).values(ended_at=now))
