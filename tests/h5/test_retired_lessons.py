"""A retired lesson on the trainee's side: the portal, /api/courses and the player's 下一讲 leave it
out while the hours earned on it stay; its player page no longer opens (410, in words), a page
opened before keeps being credited, and an exercise whose video was watched can still be done."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from models import LessonProgress, db
from services.school import catalog
from tests import factories
from tests.h5.oauth_util import login
from tests.services.test_earned_hours import complete
from tests.study_util import lesson

OPENID = "oRetiredLesson0000000000001"
REFUSAL = "该课程已停用，请学习其他课程。"


@pytest.fixture
def app(make_app, fake_wechat):
    return make_app(WECHAT_API_BASE=fake_wechat.base_url)


@pytest.fixture
def lessons(app) -> list[int]:
    return [lesson(app, hours=h, title=f"第{i}讲", duration_s=300,
                   questions=[("judge", "判断", [], "T")] if i == 1 else ())
            for i, h in ((1, 6), (2, 5), (3, 5))]


@pytest.fixture
def trainee_id(app, lessons):
    return factories.trainee(app, openid=OPENID)


@pytest.fixture
def me(app, fake_wechat, trainee_id):
    client = app.test_client()
    login(client, fake_wechat, OPENID)
    return client


def retire(app, lesson_id: int) -> None:
    with app.app_context():
        catalog.retire_lesson(db.session, lesson_id, "wang")


def test_the_portal_and_the_api_hide_a_retired_lesson_and_keep_its_hours(app, me, lessons, trainee_id):
    first, second, third = lessons
    complete(app, trainee_id, first)
    retire(app, first)
    retire(app, second)
    page = me.get("/h5/learn").get_data(as_text=True)
    assert f'id="lesson-{third}"' in page
    assert f'id="lesson-{first}"' not in page and f'id="lesson-{second}"' not in page
    assert "已修 6 / 16 学时" in page
    assert re.search(r'id="continue" href="/h5/lesson/(\d+)"', page).group(1) == str(third)
    (public, *_) = me.get("/api/courses").json
    assert [le["title"] for le in public["lessons"]] == ["第3讲"] and public["hours_earned"] == 6


def test_a_retired_lesson_opens_no_player_and_is_never_the_next_one(app, me, lessons):
    first, second, third = lessons
    retire(app, second)
    refused = me.get(f"/h5/lesson/{second}")
    assert refused.status_code == 410 and REFUSAL in refused.get_data(as_text=True)
    player = me.get(f"/h5/lesson/{first}").get_data(as_text=True)
    assert re.search(r'id="next-lesson" href="/h5/lesson/(\d+)"', player).group(1) == str(third)


def test_a_page_opened_before_the_retirement_keeps_its_heartbeats(app, me, lessons):
    first = lessons[0]
    tab = re.search(r'data-tab="([^"]+)"', me.get(f"/h5/lesson/{first}").get_data(as_text=True)).group(1)
    retire(app, first)
    answer = me.post("/api/play/heartbeat", json={"lesson_id": first, "position": 0, "tab": tab, "state": "playing"})
    assert answer.status_code == 200 and answer.json["lesson_completed"] is False
    assert me.get(f"/h5/lesson/{first}").status_code == 410  # but a new page is refused


def test_the_exercise_of_a_retired_lesson_stays_open_only_once_its_video_was_watched(app, me, lessons, trainee_id):
    first = lessons[0]
    retire(app, first)
    refused = me.get(f"/h5/lesson/{first}/exercise")
    assert refused.status_code == 410 and REFUSAL in refused.get_data(as_text=True)
    with app.app_context():
        db.session.add(LessonProgress(trainee_id=trainee_id, lesson_id=first, watched="[[0,300]]",
                                      credited_seconds=300, max_position=300, position=300,
                                      video_done_at=datetime.now(UTC)))
        db.session.commit()
    page = me.get(f"/h5/lesson/{first}/exercise")
    assert page.status_code == 200 and "判断" in page.get_data(as_text=True)
