"""Staff's exam commands: `exam void`, `exam release`, `exam show` (CONTRACT §1, §7)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from models import Completion, OutboxMessage, db
from services.exam import attempts
from services.timeutil import utcnow
from tests import factories
from tests.exam_util import bank, full_hours, keys_of, photo
from wxapp.extensions import exam_tools

PHONE = "13912340001"


@pytest.fixture
def passed_attempt(app):
    trainee_id = factories.trainee(app, phone=PHONE)
    bank(app)
    full_hours(app, trainee_id)
    now = utcnow()
    with app.app_context():
        tools = exam_tools()
        exam_id = attempts.exams_for(db.session, trainee_id)[0].id
        view, _ = attempts.start_attempt(tools, trainee_id, exam_id, "t", photo(), now)
    with app.app_context():
        for question_id, keys in keys_of(app, view.id).items():
            attempts.save_answer(exam_tools(), trainee_id, view.id, "t", question_id, keys, now)
        attempts.submit(exam_tools(), trainee_id, view.id, "t", photo(), now + timedelta(minutes=1))
    return view.id


def test_void_cancels_the_pass_and_queues_the_trainees_notice(app, runner, passed_attempt):
    result = runner.invoke(args=["exam", "void", str(passed_attempt), "--by", "王老师", "--reason", "考前照片与本人不符"])
    assert result.exit_code == 0, result.output
    assert "已取消考试记录" in result.output and "重新开放" in result.output
    with app.app_context():
        assert db.session.query(Completion).one().state == "cancelled"
        rows = db.session.query(OutboxMessage).all()
        assert len(rows) == 2  # the result and the void notice, each to the trainee
    again = runner.invoke(args=["exam", "void", str(passed_attempt), "--by", "王老师", "--reason", "x"])
    assert again.exit_code == 1 and "已于之前取消" in again.output
    assert runner.invoke(args=["exam", "void", "999", "--by", "a", "--reason", "b"]).exit_code == 1


def test_show_lists_exams_and_every_attempt_masked(app, runner, passed_attempt):
    result = runner.invoke(args=["exam", "show", PHONE])
    assert result.exit_code == 0, result.output
    assert "建筑工程：已合格" in result.output and f"#{passed_attempt} 建筑工程" in result.output
    assert "100 分，合格" in result.output and PHONE not in result.output and "139****0001" in result.output
    assert runner.invoke(args=["exam", "show", "13900000000"]).exit_code == 1


def test_release_of_a_submitted_attempt_is_refused(runner, passed_attempt):
    result = runner.invoke(args=["exam", "release", str(passed_attempt)])
    assert result.exit_code == 1 and "已交卷" in result.output
