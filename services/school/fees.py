"""Staff's fee action, for the console and the CLI alike: mark a company's enrollments paid (or
not paid again), recorded in the audit log in its transaction."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Enrollment, Trainee
from services import ServiceError
from services.db import affected, transaction
from services.identity import audit


def mark_fees_paid(session: Session, company: str, paid: bool, actor: str, now: datetime) -> int:
    """Marks every enrollment of a company's trainees paid (or not paid again); returns how many
    changed. Recorded in the audit log."""
    company = company.strip()
    if not company:
        raise ServiceError("请选择工作单位")
    with transaction(session):
        of_company = select(Trainee.id).where(Trainee.company == company)
        changing = Enrollment.paid_at.is_(None) if paid else Enrollment.paid_at.is_not(None)
        count = affected(session, update(Enrollment).where(Enrollment.trainee_id.in_(of_company), changing)
                         .values(paid_at=now if paid else None).execution_options(synchronize_session=False))
        audit.record(session, actor, "fees_marked_paid" if paid else "fees_marked_unpaid", f"company:{company[:90]}",
                     f"{company}：{count} 项报名标记为{'已缴费' if paid else '未缴费'}")
    return count
