"""The learning portal /h5/learn and GET /api/courses (CONTRACT §4) for a bound trainee."""
from __future__ import annotations

import pytest

from models import Course, Lesson, db
from services.school.majors import ensure_majors
from tests import factories
from tests.h5.oauth_util import login

OPENID = "oPortalUser0000000000000001"


@pytest.fixture
def app(make_app, fake_wechat):
    return make_app(WECHAT_API_BASE=fake_wechat.base_url)


@pytest.fixture
def catalog(app):
    with app.app_context():
        majors = ensure_majors(db.session)
        public = Course(kind="public", name="公共课程", hours_required=16)
        public.lessons = [Lesson(title=f"第{i}讲 法规", video_url=f"https://v.example/p{i}.mp4", duration_s=2700,
                                 hours=2, position=i) for i in range(1, 9)]
        building = Course(kind="professional", major=majors["建筑工程"], name="建筑工程专业课", hours_required=40)
        building.lessons = [Lesson(title="第1讲 装配式", video_url="https://v.example/b1.mp4", duration_s=1800,
                                   hours=4, position=1)]
        mining = Course(kind="professional", major=majors["矿业工程"], name="矿业工程专业课", hours_required=40)
        db.session.add_all([public, building, mining])
        db.session.commit()
        return {"public": public.id, "building": building.id, "mining": mining.id}


@pytest.fixture
def browser(app, fake_wechat, catalog):
    factories.training_class(app)
    factories.trainee(app, openid=OPENID, class_code="SZ2701-JZ",
                      majors=(("建筑工程", "main"), ("市政公用工程", "added")))
    client = app.test_client()
    login(client, fake_wechat, OPENID, "/h5/learn")
    return client


def test_api_courses_has_the_contract_shape(browser, catalog):
    r = browser.get("/api/courses")
    assert r.status_code == 200
    courses = r.json
    assert [c["id"] for c in courses] == [catalog["public"], catalog["building"]]  # 矿业 not enrolled
    public, building = courses
    assert set(public) == {"id", "name", "kind", "major", "hours_required", "hours_earned", "lessons"}
    assert (public["kind"], public["major"], public["hours_required"], public["hours_earned"]) == ("public", None, 16, 0)
    assert (building["kind"], building["major"], building["hours_required"]) == ("professional", "建筑工程", 40)
    assert len(public["lessons"]) == 8
    lesson = building["lessons"][0]
    assert lesson == {"id": lesson["id"], "title": "第1讲 装配式", "duration_s": 1800, "hours": 4, "completed": False}


def test_api_courses_needs_a_bound_trainee(app, fake_wechat):
    client = app.test_client()
    login(client, fake_wechat, "oNotBound000000000000000001", "/h5/bind")
    assert client.get("/api/courses").status_code == 403


def test_portal_shows_courses_progress_class_and_exam(browser):
    page = browser.get("/h5/learn").get_data(as_text=True)
    assert "周一，您好" in page
    assert "公共课" in page and "专业课·建筑工程" in page and "已修 0 / 16 学时" in page
    assert "专业课·市政公用工程" in page and "课程即将上线" in page  # enrolled, no course yet
    assert page.count("已修 0 / 40 学时") == 2
    assert "2027年第1期建筑工程班" in page and "2027年3月1日 09:00" in page
    assert "未开放" in page and "/h5/lesson/" in page
    assert "weui.min.css" in page
