"""The exam's rules (CONTRACT §7) in the services: unlock, draw, answers, deadline, grading,
one open attempt per session, completion and result notice on a pass, void and release."""
from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from models import Completion, Notice, OutboxMessage, db
from models.exam import ExamAnswer, ExamAttempt, ExamQuestion
from services.exam import ExamError, attempts, grading, staff
from services.exam.state import exams_for
from tests import factories
from tests.exam_util import bank, full_hours, keys_of, photo
from wxapp import config
from wxapp.extensions import exam_tools

T0 = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
TOKEN = "browser-session-1"


@pytest.fixture
def trainee(app):
    trainee_id = factories.trainee(app, openid="oExamSvc000000000000000001")
    bank(app)
    full_hours(app, trainee_id)
    return trainee_id


def exam_id(app, trainee_id) -> int:
    with app.app_context():
        return exams_for(db.session, trainee_id)[0].id


def start(app, trainee_id, token=TOKEN, now=T0, picture=b"default"):
    with app.app_context():
        view, created = attempts.start_attempt(exam_tools(), trainee_id, exam_id(app, trainee_id), token,
                                               photo() if picture == b"default" else picture, now,
                                               random.Random(7))
        return view, created


def answer_all(app, trainee_id, attempt_id, keys, now=T0 + timedelta(minutes=5)):
    with app.app_context():
        for question_id, chosen in keys.items():
            attempts.save_answer(exam_tools(), trainee_id, attempt_id, TOKEN, question_id, chosen, now)


def submit(app, trainee_id, attempt_id, now=T0 + timedelta(minutes=10), token=TOKEN):
    with app.app_context():
        return attempts.submit(exam_tools(), trainee_id, attempt_id, token, photo(), now)


def test_exam_stays_locked_and_names_the_hours_missing(app):
    trainee_id = factories.trainee(app)
    full_hours(app, trainee_id, public_done=False)
    with app.app_context():
        line = exams_for(db.session, trainee_id)[0]
    assert (line.state, line.missing) == ("locked", ["还差 公共课 4 学时"])
    bank(app)
    with pytest.raises(ExamError) as refused:
        start(app, trainee_id)
    assert refused.value.status == 403 and "还差 公共课 4 学时" in refused.value.message


def test_paper_is_drawn_per_the_rules_with_shuffled_options_and_reloads_the_same(app, trainee):
    view, created = start(app, trainee)
    assert created and len(view.questions) == config.of(app).exam_rules.question_count == 55
    with app.app_context():
        kinds = Counter(db.session.get(ExamQuestion, q.id).pool + ":" + q.type for q in view.questions)
        rules = config.of(app).exam_rules
        for kind in ("single", "multi", "judge"):
            assert kinds[f"public:{kind}"] == rules.public[kind]
            assert kinds[f"building:{kind}"] == rules.major[kind]
        stored = db.session.get(ExamAttempt, view.id).paper
    orders = [item["o"] for item in stored if len(item["o"]) == 4]
    assert any(o != list("ABCD") for o in orders)  # options shuffled
    again, created_again = start(app, trainee)
    assert not created_again and again.id == view.id and again.questions == view.questions


def test_open_paper_carries_no_correct_answer(app, trainee):
    view, _ = start(app, trainee)
    assert all(not hasattr(q, "answer") for q in view.questions)
    judge = next(q for q in view.questions if q.type == "judge")
    assert judge.options == [("T", "对"), ("F", "错")]


def test_another_session_gets_409_until_staff_release(app, trainee):
    view, _ = start(app, trainee)
    with pytest.raises(ExamError) as refused:
        start(app, trainee, token="another-browser")
    assert refused.value.status == 409
    with app.app_context():
        staff.release(exam_tools(), view.id, "王老师")
    again, created = start(app, trainee, token="another-browser")
    assert (again.id, created) == (view.id, False)
    with pytest.raises(ExamError):
        start(app, trainee, token=TOKEN)  # the first session lost it


def test_answers_are_checked_and_saved_as_given(app, trainee):
    view, _ = start(app, trainee)
    single = next(q for q in view.questions if q.type == "single")
    with app.app_context():
        tools = exam_tools()
        for bad in (["Z"], ["A", "B"], "A", [1]):
            with pytest.raises(ExamError) as refused:
                attempts.save_answer(tools, trainee, view.id, TOKEN, single.id, bad, T0)
            assert refused.value.status == 400
        attempts.save_answer(tools, trainee, view.id, TOKEN, single.id, ["C"], T0)
        attempts.save_answer(tools, trainee, view.id, TOKEN, single.id, ["D"], T0)
        assert attempts.get_attempt(tools, trainee, view.id, TOKEN, T0).answers == {single.id: ["D"]}
        attempts.save_answer(tools, trainee, view.id, TOKEN, single.id, [], T0)
        assert db.session.query(ExamAnswer).count() == 0


def test_failing_paper_scores_and_keeps_exam_open_for_a_free_retake(app, trainee):
    view, _ = start(app, trainee)
    answer_all(app, trainee, view.id, keys_of(app, view.id, right=False))
    result = submit(app, trainee, view.id)
    assert (result.score, result.passed, result.correct, result.total) == (0, False, 0, 55)
    with app.app_context():
        line = exams_for(db.session, trainee)[0]
        assert (line.state, line.best_score, line.attempts) == ("open", 0, 1)
        assert db.session.query(Completion).count() == 0
    second, created = start(app, trainee, now=T0 + timedelta(hours=1))
    assert created and second.id != view.id


def test_multiple_choice_scores_only_with_all_and_only_the_right_keys(app, trainee):
    view, _ = start(app, trainee)
    right = keys_of(app, view.id)
    multi = [q for q in view.questions if q.type == "multi"]
    partial = {multi[0].id: right[multi[0].id][:1]}
    wrong_key = next(k for k in "ABCDE" if k not in right[multi[1].id])
    extra = {multi[1].id: sorted(right[multi[1].id] + [wrong_key])}
    exact = {multi[2].id: right[multi[2].id]}
    answer_all(app, trainee, view.id, {**partial, **extra, **exact})
    result = submit(app, trainee, view.id)
    assert (result.correct, result.score) == (1, 3)


def test_pass_writes_completion_and_result_notice_in_the_same_transaction_and_closes_exam(app, trainee):
    view, _ = start(app, trainee)
    keys = keys_of(app, view.id)
    judge_ids = [q.id for q in view.questions if q.type == "judge"]
    answer_all(app, trainee, view.id, {q: k for q, k in keys.items() if q not in judge_ids})  # 80 points
    result = submit(app, trainee, view.id)
    assert (result.score, result.passed) == (80, True)
    with app.app_context():
        completion = db.session.query(Completion).one()
        assert (completion.trainee_id, completion.attempt_id, completion.score, completion.state) == (
            trainee, view.id, 80, "valid")
        notice = db.session.query(Notice).one()
        assert (notice.kind, notice.key, notice.params["result"], notice.params["score"]) == (
            "exam_result", f"exam_result:{view.id}", "合格", "80分")
        assert db.session.query(OutboxMessage).filter_by(trainee_id=trainee).count() == 1
        assert exams_for(db.session, trainee)[0].state == "passed"
    with pytest.raises(ExamError) as refused:
        start(app, trainee, now=T0 + timedelta(hours=1))
    assert refused.value.status == 403


def test_a_failing_completion_write_rolls_the_pass_back(app, trainee, monkeypatch):
    view, _ = start(app, trainee)
    answer_all(app, trainee, view.id, keys_of(app, view.id))

    def broken(*args, **kwargs):
        raise RuntimeError("notice write failed")

    monkeypatch.setattr(grading.notices, "exam_result", broken)
    with pytest.raises(RuntimeError):
        submit(app, trainee, view.id)
    with app.app_context():
        attempt = db.session.get(ExamAttempt, view.id)
        assert attempt.submitted_at is None and attempt.score is None
        assert db.session.query(Completion).count() == 0


def test_deadline_is_the_servers_and_an_open_attempt_is_graded_as_it_stands(app, trainee):
    view, _ = start(app, trainee)
    keys = keys_of(app, view.id)
    answer_all(app, trainee, view.id, dict(list(keys.items())[:35]))  # the 25 single (50) + 10 multi (30)
    late = T0 + timedelta(seconds=config.of(app).exam_rules.time_limit_s + 1)
    with app.app_context():
        tools = exam_tools()
        with pytest.raises(ExamError) as refused:
            attempts.save_answer(tools, trainee, view.id, TOKEN, view.questions[-1].id, ["T"], late)
        assert refused.value.status == 409
        attempt = db.session.get(ExamAttempt, view.id)
        assert (attempt.submitted_by, attempt.score, attempt.passed) == ("deadline", 80, True)
        assert db.session.query(Completion).count() == 1


def test_scheduler_settles_every_attempt_past_its_deadline_once(app, trainee):
    view, _ = start(app, trainee)
    late = T0 + timedelta(hours=2)
    with app.app_context():
        assert grading.settle_due(exam_tools(), T0 + timedelta(minutes=30)) == 0
        assert grading.settle_due(exam_tools(), late) == 1
        assert grading.settle_due(exam_tools(), late) == 0
        attempt = db.session.get(ExamAttempt, view.id)
        assert (attempt.submitted_by, attempt.score, attempt.passed) == ("deadline", 0, False)


def test_submit_twice_is_409_and_needs_a_photo(app, trainee):
    view, _ = start(app, trainee)
    with app.app_context():
        with pytest.raises(ExamError) as refused:
            attempts.submit(exam_tools(), trainee, view.id, TOKEN, None, T0)
        assert refused.value.status == 400
    submit(app, trainee, view.id)
    with pytest.raises(ExamError) as again:
        submit(app, trainee, view.id)
    assert again.value.status == 409


def test_start_needs_a_usable_photo_and_keeps_it_reencoded(app, trainee):
    for bad in (None, b"", b"not an image", photo("GIF")):
        with pytest.raises(ExamError) as refused:
            start(app, trainee, picture=bad)
        assert refused.value.status == 400
    view, _ = start(app, trainee, picture=photo(size=(4000, 3000), orientation=6))
    with app.app_context():
        stored = attempts.photo(exam_tools(), trainee, view.id, "before")
    import io

    from PIL import Image
    image = Image.open(io.BytesIO(stored))
    # Turned upright, decoded at a quarter of its size (JPEG's DCT scaling: no resize after it).
    assert image.format == "JPEG" and image.size == (750, 1000)
    assert not image.getexif()


def test_a_photo_decodes_at_the_smallest_jpeg_fraction_still_960_px_long():
    from services.exam.photos import decode_size, prepare

    assert decode_size((4000, 3000)) == (1000, 750)  # 1/4
    assert decode_size((4032, 3024)) == (1008, 756)
    assert decode_size((2400, 1800)) == (1200, 900)  # 1/2
    assert decode_size((1800, 1350)) == (1800, 1350)  # a half would be 900: whole, then resized to 1280
    assert decode_size((8000, 6000)) == (1000, 750)  # 1/8
    import io

    from PIL import Image
    assert Image.open(io.BytesIO(prepare(photo(size=(1800, 1350))))).size == (1280, 960)
    assert Image.open(io.BytesIO(prepare(photo(size=(2400, 1800))))).size == (1200, 900)



def test_another_trainees_attempt_and_photo_are_404(app, trainee):
    view, _ = start(app, trainee)
    other = factories.trainee(app, name="吴二", phone="13912340002", id_card="32058319751212108X")
    with app.app_context():
        for call in (lambda t: attempts.get_attempt(t, other, view.id, TOKEN, T0),
                     lambda t: attempts.photo(t, other, view.id, "before")):
            with pytest.raises(ExamError) as refused:
                call(exam_tools())
            assert refused.value.status == 404


def test_void_cancels_completion_reopens_exam_and_tells_the_trainee_why(app, trainee):
    view, _ = start(app, trainee)
    answer_all(app, trainee, view.id, keys_of(app, view.id))
    submit(app, trainee, view.id)
    with app.app_context():
        _, notice = staff.void(exam_tools(), view.id, "王老师", "照片与本人不符", T0 + timedelta(days=1))
        assert db.session.query(Completion).one().state == "cancelled"
        line = exams_for(db.session, trainee)[0]
        assert (line.state, line.best_score, line.attempts) == ("open", None, 1)
        assert notice.kind == "exam_voided"
        assert notice.params["reason"] == "照片与本人不符"
        assert db.session.query(OutboxMessage).filter_by(notice_id=notice.id, trainee_id=trainee).count() == 1
        with pytest.raises(ExamError):
            staff.void(exam_tools(), view.id, "王老师", "again", T0 + timedelta(days=1))
    retake, created = start(app, trainee, now=T0 + timedelta(days=2))
    assert created


def test_scheduler_job_grades_attempts_left_open(app, trainee):
    from scheduler import jobs

    view, _ = start(app, trainee)
    with app.app_context():
        jobs.settle_exam_deadlines(now=T0 + timedelta(minutes=59))
        assert db.session.get(ExamAttempt, view.id).submitted_at is None
        jobs.settle_exam_deadlines(now=T0 + timedelta(minutes=61))
        assert db.session.get(ExamAttempt, view.id).submitted_by == "deadline"
