"""Completions for the certificate, verification and export tests, written by the real service."""
from __future__ import annotations

from datetime import UTC, datetime

from models import db
from services.completion.records import cancel_completion_of_attempt, record_completion
from services.school.majors import ensure_majors

# 2027-03-20 10:00 in Shanghai
PASSED_AT = datetime(2027, 3, 20, 2, 0, tzinfo=UTC)


def complete(app, trainee_id: int, major: str = "建筑工程", score: int = 86, at: datetime = PASSED_AT,
             attempt_id: int | None = None) -> str:
    """Records a pass of `major`; returns the certificate number."""
    with app.app_context():
        major_id = ensure_majors(db.session)[major].id
        number = record_completion(db.session, trainee_id=trainee_id, major_id=major_id, score=score,
                                   completed_at=at, attempt_id=attempt_id).number
        db.session.commit()
        return number


def cancel(app, attempt_id: int, at: datetime = datetime(2027, 4, 2, 3, 0, tzinfo=UTC)) -> None:
    with app.app_context():
        cancel_completion_of_attempt(db.session, attempt_id, reason="照片与本人不符", at=at)
        db.session.commit()
