"""The scheduler grades exam attempts by the database's clock, never its own host's: a scheduler
host whose clock runs two hours fast must not grade a 60-minute attempt one minute in."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from models import db
from models.exam import ExamAttempt
from scheduler import jobs
from services.exam import attempts
from services.exam.state import exams_for
from services.timeutil import utcnow
from tests import factories
from tests.exam_util import bank, full_hours, photo
from wxapp.extensions import exam_tools


def test_deadline_grading_follows_the_database_clock_not_a_fast_host_clock(app, monkeypatch):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite runs in the process: its clock is the host's")
    trainee = factories.trainee(app, openid="oClock0000000000000000001")
    bank(app)
    full_hours(app, trainee)
    with app.app_context():
        exam = exams_for(db.session, trainee)[0].id
        view, _ = attempts.start_attempt(exam_tools(), trainee, exam, "browser", photo(), utcnow(), random.Random(1))
    fast = utcnow() + timedelta(hours=2)
    monkeypatch.setattr(jobs, "utcnow", lambda: fast)  # this host's clock, two hours ahead

    with app.app_context():
        jobs.settle_exam_deadlines()
        assert db.session.get(ExamAttempt, view.id).submitted_at is None  # one minute in: still open

        db.session.execute(update(ExamAttempt).where(ExamAttempt.id == view.id)
                           .values(deadline=select(func.now() - timedelta(minutes=1)).scalar_subquery()))
        db.session.commit()
        jobs.settle_exam_deadlines()
        db.session.expire_all()
        graded = db.session.get(ExamAttempt, view.id)
    assert graded.submitted_by == "deadline" and graded.submitted_at < fast - timedelta(minutes=90)
