"""Today's activity for the dashboard: attendance checks (passed, expired, refused scans) and the
notices' delivery, and the rows behind each of those figures."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from models import AttendanceCheck, AttendanceRefusal, Lesson, OutboxMessage, Trainee
from services.timeutil import SHANGHAI


def day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """Today in Beijing time, as UTC bounds."""
    start = datetime.combine(now.astimezone(SHANGHAI).date(), time(0), SHANGHAI).astimezone(UTC)
    return start, start + timedelta(days=1)


def attendance_today(session: Session, now: datetime) -> dict[str, int]:
    """Today's checks: issued, passed, expired (a pending one past its time counts), refused scans."""
    start, end = day_bounds(now)
    expired = (AttendanceCheck.status == "expired") | (
        (AttendanceCheck.status == "pending") & (AttendanceCheck.expires_at < now))
    issued, passed, lapsed = session.execute(
        select(func.count(), func.count().filter(AttendanceCheck.status == "verified"), func.count().filter(expired))
        .where(AttendanceCheck.issued_at >= start, AttendanceCheck.issued_at < end)
    ).one()
    refused = session.scalar(select(func.count()).select_from(AttendanceRefusal)
                             .where(AttendanceRefusal.at >= start, AttendanceRefusal.at < end))
    return {"issued": issued, "verified": passed, "expired": lapsed, "refused": refused or 0}


def notices(session: Session) -> dict[str, int]:
    """Outbox rows by state, all notices."""
    return dict(session.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all())


@dataclass(frozen=True)
class CheckToday:
    trainee_id: int
    name: str
    lesson: str
    issued_at: datetime
    status: str
    refused: int


def attendance_rows(session: Session, now: datetime, status: str) -> list[CheckToday]:
    """Today's checks behind one figure: `verified`, `expired`, `refused` (checks with a refused
    scan today) or every one issued; newest first, at most 500."""
    start, end = day_bounds(now)
    refused = func.count(AttendanceRefusal.id)
    stmt = (select(Trainee.id, Trainee.name, Lesson.title, AttendanceCheck.issued_at, AttendanceCheck.status,
                   AttendanceCheck.expires_at, refused)
            .join(Trainee, Trainee.id == AttendanceCheck.trainee_id)
            .outerjoin(Lesson, Lesson.id == AttendanceCheck.lesson_id)
            .outerjoin(AttendanceRefusal, and_(AttendanceRefusal.check_id == AttendanceCheck.id,
                                               AttendanceRefusal.at >= start, AttendanceRefusal.at < end))
            .group_by(Trainee.id, Trainee.name, Lesson.title, AttendanceCheck.id)
            .order_by(AttendanceCheck.issued_at.desc()).limit(500))
    if status == "refused":
        stmt = stmt.having(refused > 0)
    else:
        stmt = stmt.where(AttendanceCheck.issued_at >= start, AttendanceCheck.issued_at < end)
    if status == "verified":
        stmt = stmt.where(AttendanceCheck.status == "verified")
    elif status == "expired":
        stmt = stmt.where((AttendanceCheck.status == "expired")
                          | ((AttendanceCheck.status == "pending") & (AttendanceCheck.expires_at < now)))
    return [CheckToday(tid, name, title or "（课时已删除）", issued,
                       "expired" if st == "pending" and expires < now else st, n)
            for tid, name, title, issued, st, expires, n in session.execute(stmt)]
