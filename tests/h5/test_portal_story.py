"""The portal and the player tell one story: 开始学习 before anything was watched, the class's
countdown, 下一讲 from the 公共课 into the 专业课, and the exam as the main button once it opens."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from models import Lesson, LessonProgress, db
from services.timeutil import utcnow
from tests import factories
from tests.exam_util import full_hours
from tests.h5.oauth_util import login

OPENID = "oPortalStory00000000000000001"


@pytest.fixture
def app(make_app, fake_wechat):
    return make_app(WECHAT_API_BASE=fake_wechat.base_url)


def browse(app, fake_wechat, path="/h5/learn"):
    client = app.test_client()
    login(client, fake_wechat, OPENID, path)
    r = client.get(path)
    assert r.status_code == 200
    return r.get_data(as_text=True)


def lesson_id(app, title: str) -> int:
    with app.app_context():
        return db.session.query(Lesson).filter_by(title=title).one().id


def test_a_trainee_who_never_watched_is_asked_to_start_not_to_continue(app, fake_wechat):
    trainee_id = factories.trainee(app, openid=OPENID)
    full_hours(app, trainee_id, public_done=False, major_done=False)
    with app.app_context():  # full_hours completes the first 公共课 lesson: undo it, nothing watched
        db.session.query(LessonProgress).delete()
        db.session.commit()

    page = browse(app, fake_wechat)

    assert re.search(r'id="continue" href="/h5/lesson/\d+">开始学习：公共 1<', page)
    assert "继续学习" not in page


def test_a_trainee_who_watched_is_asked_to_continue(app, fake_wechat):
    trainee_id = factories.trainee(app, openid=OPENID)
    full_hours(app, trainee_id, public_done=False, major_done=False)

    page = browse(app, fake_wechat)

    assert re.search(r'class="weui-btn weui-btn_primary" id="continue" href="/h5/lesson/\d+">继续学习：公共 2<', page)
    assert 'id="exam-entry"' not in page


def test_once_the_hours_are_complete_the_exam_is_the_main_button(app, fake_wechat):
    trainee_id = factories.trainee(app, openid=OPENID)
    full_hours(app, trainee_id)

    page = browse(app, fake_wechat)

    assert '<a class="weui-btn weui-btn_primary" id="exam-entry" href="/h5/exam">进入考试</a>' in page
    assert "学时已修满，可以参加考试：建筑工程" in page
    assert page.index('id="exam-entry"') < page.index("我的课程")


def test_a_class_not_yet_open_shows_the_days_left_and_that_studying_before_counts(app, fake_wechat):
    factories.training_class(app, starts_at=utcnow() + timedelta(days=10, hours=1))
    factories.trainee(app, openid=OPENID, class_code="SZ2701-JZ")

    page = browse(app, fake_wechat)

    assert re.search(r"距开班 1[01] 天", page)
    assert "开班前就可以先在线学习，看完的课时照常计入学时。" in page


def test_a_class_already_open_shows_no_countdown(app, fake_wechat):
    factories.training_class(app, starts_at=utcnow() - timedelta(days=3))
    factories.trainee(app, openid=OPENID, class_code="SZ2701-JZ")

    page = browse(app, fake_wechat)

    assert "距开班" not in page and "开班前就可以" not in page


def test_after_the_last_public_lesson_the_next_lesson_is_the_first_professional_one(app, fake_wechat):
    trainee_id = factories.trainee(app, openid=OPENID)
    full_hours(app, trainee_id, public_done=False, major_done=False)
    last_public, first_major = lesson_id(app, "公共 2"), lesson_id(app, "建筑工程 1")

    page = browse(app, fake_wechat, f"/h5/lesson/{last_public}")

    assert re.search(rf'id="next-lesson" href="/h5/lesson/{first_major}"[^>]*>下一讲：建筑工程 1<', page)
