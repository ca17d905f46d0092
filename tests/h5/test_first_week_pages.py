"""What a trainee reads in the first week: lesson lengths, finished and next lessons, the end of a
lesson, the exercise's marks, the expired-QR page, and the school's phone as the way out."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from models import LessonProgress, db
from tests import factories
from tests.h5.oauth_util import login
from tests.h5.test_exercise_page import QUESTIONS, submit, video_done
from tests.study_util import lesson
from wxapp.h5.study import duration_text

OPENID = "oFirstWeek0000000000000001"
PHONE = "0512-66668888"


@pytest.fixture
def app(make_app, fake_wechat):
    return make_app(WECHAT_API_BASE=fake_wechat.base_url, SCHOOL_PHONE=PHONE)


@pytest.fixture
def lessons(app):
    return [lesson(app, duration_s=52, hours=6, title="第1讲 法规", questions=QUESTIONS),
            lesson(app, duration_s=596, hours=5, title="第2讲 安全"),
            lesson(app, duration_s=2700, hours=5, title="第3讲 绿色施工")]


@pytest.fixture
def client(app, fake_wechat, lessons):
    trainee_id = factories.trainee(app, openid=OPENID)
    client = app.test_client()
    login(client, fake_wechat, OPENID)
    client.trainee_id = trainee_id
    return client


def completed(app, trainee_id, lesson_id):
    with app.app_context():
        now = datetime.now(UTC)
        db.session.add(LessonProgress(trainee_id=trainee_id, lesson_id=lesson_id, watched="[[0,52]]", credited_seconds=52,
                                      max_position=52, position=52, video_done_at=now, exercise_passed_at=now,
                                      completed_at=now))
        db.session.commit()


@pytest.mark.parametrize("seconds,text", [(0, "0秒"), (52, "52秒"), (60, "1分钟"), (596, "9分56秒"),
                                          (2700, "45分钟"), (1790, "30分钟")])
def test_a_lesson_length_reads_in_minutes_and_seconds_never_0_minutes(seconds, text):
    assert duration_text(seconds) == text


def test_the_list_marks_finished_lessons_and_the_next_one_to_watch(app, client, lessons):
    completed(app, client.trainee_id, lessons[0])
    page = client.get("/h5/learn").get_data(as_text=True)
    cells = {int(m.group(1)): m.group(0) for m in re.finditer(r'<a class="weui-cell[^"]*"\s+id="lesson-(\d+)".*?</a>', page, re.S)}
    assert "lesson_done" in cells[lessons[0]] and "已完成 ✓" in cells[lessons[0]] and "52秒" in cells[lessons[0]]
    assert "lesson_next" in cells[lessons[1]] and "下一讲" in cells[lessons[1]] and "9分56秒" in cells[lessons[1]]
    assert "lesson_next" not in cells[lessons[2]] and "已完成" not in cells[lessons[2]]
    assert "0分钟" not in page
    assert re.search(rf'id="continue" href="/h5/lesson/{lessons[1]}">继续学习：第2讲 安全', page)


def test_the_end_of_a_lesson_offers_the_exercise_and_the_next_lesson(client, lessons):
    page = client.get(f"/h5/lesson/{lessons[0]}").get_data(as_text=True)
    assert 'id="exercise-link"' in page
    assert re.search(rf'id="next-lesson" href="/h5/lesson/{lessons[1]}"\s+hidden>下一讲：第2讲 安全', page)
    last = client.get(f"/h5/lesson/{lessons[2]}").get_data(as_text=True)
    assert 'id="exercise-link"' not in last and "最后一讲，返回课程列表" in last


def test_the_player_shows_the_local_position_apart_from_what_the_school_recorded(app, client, lessons):
    with app.app_context():
        db.session.add(LessonProgress(trainee_id=client.trainee_id, lesson_id=lessons[1], watched="[[0,75]]",
                                      credited_seconds=75, max_position=75, position=70))
        db.session.commit()
    page = client.get(f"/h5/lesson/{lessons[1]}").get_data(as_text=True)
    assert re.search(r'id="watched">0:00 / 9:56<', page)
    assert re.search(r'学校已记录到.*?id="synced">1:15<', page, re.S)


def test_a_wrong_choice_is_red_and_no_answer_is_shown_until_all_are_right(app, client, lessons):
    video_done(app, client.trainee_id, lessons[0])
    wrong = submit(client, lessons[0], {1: "A", 2: "AB"}).get_data(as_text=True)
    first = wrong[wrong.index('id="question-1"'):wrong.index('id="question-2"')]
    second = wrong[wrong.index('id="question-2"'):]
    assert re.search(r'option_wrong" for="q\d+A"', first) and first.count("option_wrong") == 1
    assert "option__mark_wrong\">✗" in first and "本题答错了" in first
    assert "option_wrong" not in second and "option_right" not in wrong  # the right one stays unsaid
    assert 'value="C" checked' not in first  # nothing hints at C
    right = submit(client, lessons[0], {1: "C", 2: "AB"}).get_data(as_text=True)
    assert "全部答对" in right and "option_wrong" not in right
    assert re.findall(r'option_right" id="q\d+([A-F])"', right) == ["C", "A", "B"]
    assert right.count("✓ 正确答案") == 3


def test_the_school_phone_is_a_tel_link_where_the_school_is_the_way_out(client, lessons):
    link = f'<a class="school-phone" href="tel:051266668888">{PHONE}</a>'
    assert link in client.get("/h5/learn").get_data(as_text=True)
    player = client.get(f"/h5/lesson/{lessons[0]}").get_data(as_text=True)
    assert player.count(link) == 2  # the stopped and the paused dialogs
    missing = client.get("/h5/lesson/999999")
    assert missing.status_code == 404 and link in missing.get_data(as_text=True)


def test_without_a_school_phone_pages_name_the_school_without_a_link(make_app, fake_wechat, lessons):
    app = make_app(WECHAT_API_BASE=fake_wechat.base_url)
    factories.trainee(app, openid="oNoPhone000000000000000001")
    client = app.test_client()
    login(client, fake_wechat, "oNoPhone000000000000000001")
    page = client.get("/h5/learn").get_data(as_text=True)
    assert "学习中遇到问题，请联系学校。" in page and "tel:" not in page
