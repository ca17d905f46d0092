"""Who has not completed yet, as SQL over any number of trainees at once: an enrolled major's exam
without a standing pass. Below the exam and the notices, which both ask it (the exam's state, the
registration-expiry reminder)."""
from __future__ import annotations

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import InstrumentedAttribute, aliased

from models import Enrollment
from models.exam import ExamAttempt


def owes_an_exam(trainee_id: InstrumentedAttribute[int]) -> ColumnElement[bool]:
    """SQL, for any number of trainees at once: an enrolled major's exam has no standing pass yet.
    Its negation is `services.exam.state.exam_state(...).passed` for a trainee with at least one
    enrollment."""
    owed = aliased(Enrollment)
    passed = select(ExamAttempt.id).where(ExamAttempt.enrollment_id == owed.id, ExamAttempt.voided_at.is_(None),
                                          ExamAttempt.passed.is_(True))
    return exists(select(owed.id).where(owed.trainee_id == trainee_id, ~exists(passed)))
