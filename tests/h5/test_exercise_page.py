"""课后练习 over HTTP: after the video, graded on the server, unlimited tries, all right earns the hours."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from models import ExerciseAttempt, LessonProgress, db
from tests import factories
from tests.h5.oauth_util import login
from tests.study_util import lesson

OPENID = "oExerciseUser00000000000001"
QUESTIONS = [("single", "有效期几年？", ["2年", "3年", "4年"], "C"), ("multi", "连接方式有？", ["套筒", "浆锚", "绑扎"], "AB")]


@pytest.fixture
def app(make_app, fake_wechat):
    return make_app(WECHAT_API_BASE=fake_wechat.base_url)


@pytest.fixture
def setup(app, fake_wechat):
    lesson_id = lesson(app, duration_s=300, hours=2, questions=QUESTIONS)
    trainee_id = factories.trainee(app, openid=OPENID)
    client = app.test_client()
    login(client, fake_wechat, OPENID)
    return client, lesson_id, trainee_id


def video_done(app, trainee_id, lesson_id):
    with app.app_context():
        db.session.add(LessonProgress(trainee_id=trainee_id, lesson_id=lesson_id, watched="[[0,300]]",
                                      credited_seconds=300, max_position=300, position=300,
                                      video_done_at=datetime.now(UTC)))
        db.session.commit()


def submit(client, lesson_id, answers: dict[int, str]):
    page = client.get(f"/h5/lesson/{lesson_id}/exercise").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    names = re.findall(r'name="(q\d+)"', page)
    fields = {"csrf_token": token}
    for number, letters in answers.items():
        fields[sorted(set(names), key=names.index)[number - 1]] = list(letters)
    return client.post(f"/h5/lesson/{lesson_id}/exercise", data=fields)


def test_the_exercise_waits_for_the_video(app, setup):
    client, lesson_id, _ = setup
    page = client.get(f"/h5/lesson/{lesson_id}/exercise").get_data(as_text=True)
    assert "请先看完本课视频" in page and "有效期几年" not in page
    assert "课后练习" in client.get(f"/h5/lesson/{lesson_id}").get_data(as_text=True)


def test_wrong_answers_say_which_and_earn_nothing_then_right_ones_earn_the_hours(app, setup):
    client, lesson_id, trainee_id = setup
    video_done(app, trainee_id, lesson_id)
    assert 'id="hours-state">未获得' in client.get(f"/h5/lesson/{lesson_id}").get_data(as_text=True)  # now hot
    wrong = submit(client, lesson_id, {1: "C", 2: "A"}).get_data(as_text=True)
    assert "答对 1 / 2 题，第 2 题有误" in wrong and 'value="C" checked' in wrong
    again = submit(client, lesson_id, {1: "B", 2: "AB"}).get_data(as_text=True)
    assert "第 1 题有误" in again
    assert client.get("/api/courses").json[0]["hours_earned"] == 0
    right = submit(client, lesson_id, {1: "C", 2: "BA"}).get_data(as_text=True)
    assert "全部答对" in right and "2 学时" in right
    with app.app_context():
        attempts = db.session.query(ExerciseAttempt).order_by(ExerciseAttempt.id).all()
        assert [(a.correct, a.total, a.passed) for a in attempts] == [(1, 2, False), (1, 2, False), (2, 2, True)]
        row = db.session.query(LessonProgress).one()
        assert row.exercise_passed_at is not None and row.completed_at is not None
    course = client.get("/api/courses").json[0]
    assert course["hours_earned"] == 2 and course["lessons"][0]["completed"] is True
    assert "已修 2 / 16 学时" in client.get("/h5/learn").get_data(as_text=True)
    assert 'id="hours-state">已获得' in client.get(f"/h5/lesson/{lesson_id}").get_data(as_text=True)


def test_an_answer_needs_the_form_token(app, setup):
    client, lesson_id, trainee_id = setup
    video_done(app, trainee_id, lesson_id)
    # Refused, nothing graded: the page opens again with the choices kept (tests/h5/test_stranded_pages.py).
    assert client.post(f"/h5/lesson/{lesson_id}/exercise", data={"q1": "C"}).status_code == 303
    with app.app_context():
        assert db.session.query(ExerciseAttempt).count() == 0
