"""Completion records: a fresh unguessable number per pass, one valid completion per trainee and major."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from models import Completion, db
from services.completion.records import (
    NUMBER_ALPHABET,
    cancel_completion_of_attempt,
    new_certificate_number,
    record_completion,
)
from services.school.majors import ensure_majors
from tests import factories

AT = datetime(2027, 3, 20, 2, 0, tzinfo=UTC)


def test_certificate_numbers_are_twelve_unambiguous_characters_and_differ():
    numbers = {new_certificate_number() for _ in range(2000)}
    assert len(numbers) == 2000
    assert all(len(n) == 12 and set(n) <= set(NUMBER_ALPHABET) for n in numbers)
    assert not set("01OIL") & set(NUMBER_ALPHABET)


def test_void_cancels_and_a_new_pass_gets_a_new_number(app):
    trainee_id = factories.trainee(app)
    with app.app_context():
        major_id = ensure_majors(db.session)["建筑工程"].id
        first = record_completion(db.session, trainee_id=trainee_id, major_id=major_id, score=80,
                                  completed_at=AT, attempt_id=7)
        db.session.commit()
        cancelled = cancel_completion_of_attempt(db.session, 7, reason="照片与本人不符", at=AT)
        assert cancelled is not None and cancelled.number == first.number
        second = record_completion(db.session, trainee_id=trainee_id, major_id=major_id, score=90,
                                   completed_at=AT, attempt_id=8)
        db.session.commit()
        states = {c.number: c.state for c in db.session.query(Completion)}
        assert states == {first.number: "cancelled", second.number: "valid"}
        assert cancel_completion_of_attempt(db.session, 7, reason="again", at=AT) is None


def test_two_valid_completions_of_one_major_are_refused_by_the_database(app):
    trainee_id = factories.trainee(app)
    with app.app_context():
        major_id = ensure_majors(db.session)["建筑工程"].id
        record_completion(db.session, trainee_id=trainee_id, major_id=major_id, score=60, completed_at=AT)
        with pytest.raises(IntegrityError):
            record_completion(db.session, trainee_id=trainee_id, major_id=major_id, score=70, completed_at=AT)
        db.session.rollback()
