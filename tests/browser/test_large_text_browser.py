"""Every trainee page with WeChat's large text (care mode): at 375×667 with text at 150 % and 200 %, and
at 320×568, nothing scrolls sideways, no button is clipped, every tap target is at least 44 px, text is at
least 16 px at 100 % and every text has 4.5:1 contrast. Screenshots go to the test's tmp dir."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import send_from_directory

from tests import factories
from tests.browser.conftest import wechat_authorize
from tests.browser.large_text import problems, text_zoom
from tests.completion_util import complete
from tests.exam_util import bank, full_hours, photo
from tests.h5.test_exercise_page import QUESTIONS, video_done
from tests.study_util import lesson

pytestmark = pytest.mark.browser

STUDENT, GRADUATE, NEWCOMER = "oLargeTextStudent00000000001", "oLargeTextGraduate0000000001", "oLargeTextNewcomer0000000001"
MEDIA = Path(__file__).with_name("media")
RULES = {"public": {"single": 2, "multi": 1, "judge": 1}, "major": {"single": 3, "multi": 1, "judge": 2},
         "points": {"single": 8, "multi": 15, "judge": 10}, "pass_score": 60, "time_limit_min": 30}
SIZES = [  # (name, viewport, text zoom)
    ("375x667-text150", {"width": 375, "height": 667}, 1.5),
    ("375x667-text200", {"width": 375, "height": 667}, 2.0),
    ("320x568", {"width": 320, "height": 568}, 1.0),
]


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


@pytest.fixture
def make_app(make_app, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))

    def factory(**overrides):
        return make_app(EXAM_RULES_FILE=rules, SCHOOL_PHONE="0512-6888 8888", ATTENDANCE_INTERVAL_MIN_S=600,
                        ATTENDANCE_INTERVAL_MAX_S=600, **overrides)
    return factory


@pytest.fixture
def school(live_app, tmp_path):
    app, origin = live_app
    app.add_url_rule("/test-media/<path:name>", "test_media", lambda name: send_from_directory(MEDIA, name))
    student = factories.trainee(app, name="欧阳建国", openid=STUDENT)
    full_hours(app, student)
    lesson_id = lesson(app, duration_s=8, hours=2, questions=QUESTIONS, title="第3讲 建筑施工安全生产管理条例解读",
                       video_url=f"{origin}/test-media/lesson-8s.webm")
    video_done(app, student, lesson_id)
    bank(app, per_kind=5)
    graduate = factories.trainee(app, name="张三", phone="13912340002", id_card="32058319751212108X", openid=GRADUATE)
    number = complete(app, graduate, score=92)
    picture = tmp_path / "me.jpg"
    picture.write_bytes(photo())
    return app, origin, lesson_id, number, picture


def pages(page, origin, lesson_id, number, picture, as_user):
    """Walks the trainee pages; yields (name, page) at each state worth checking."""
    as_user(NEWCOMER)
    page.goto(f"{origin}/h5/bind")
    yield "bind", page
    page.fill("#phone", "13900000000")
    page.fill("#id_card", "320505198001010017")
    page.click("#bind-submit")
    page.wait_for_selector("#error-form")
    yield "bind-refused", page
    page.context.clear_cookies()  # the session ends while the form is open: the expired page
    page.fill("#id_card", "320505198001010017")
    page.click("#bind-submit")
    page.wait_for_selector("#expired-retry")
    yield "form-expired", page

    as_user(STUDENT)
    page.goto(f"{origin}/h5/learn")
    yield "portal", page
    page.goto(f"{origin}/h5/lesson/{lesson_id}")
    page.wait_for_function("document.getElementById('video').readyState >= 1")
    yield "player", page
    page.goto(f"{origin}/h5/lesson/{lesson_id}/exercise")
    yield "exercise", page
    page.locator("#question-1 label").nth(0).click()
    page.click("#exercise-submit")
    page.wait_for_selector("#exercise-result")
    yield "exercise-wrong", page
    page.goto(f"{origin}/h5/exam")
    page.wait_for_selector("#exam-cards .exam-card")
    yield "exam-list", page
    if page.locator(".exam-start").count():
        page.click(".exam-start")
        page.wait_for_selector("#exam-photo:not([hidden])")
        yield "exam-photo", page
        page.set_input_files("#photo-input", str(picture))
        page.wait_for_selector("#photo-preview:not([hidden])")
        page.click("#photo-go")
    else:
        page.click(".exam-resume, .exam-card .weui-btn")
    page.wait_for_selector("#exam-paper:not([hidden])")
    yield "exam-paper", page
    page.click("#paper-submit")
    page.wait_for_selector("#exam-confirm:not([hidden]) .weui-dialog")
    yield "exam-confirm", page
    page.click("#confirm-no")
    page.goto(f"{origin}/h5/no-such-page")
    yield "error-404", page

    as_user(GRADUATE)
    page.goto(f"{origin}/h5/certificates")
    yield "certificates", page
    page.goto(f"{origin}/h5/certificates/{number}")
    yield "certificate", page
    page.goto(f"{origin}/verify/{number}")
    yield "verify", page


@pytest.mark.parametrize("size,viewport,zoom", SIZES, ids=[s[0] for s in SIZES])
def test_trainee_pages_hold_large_text_and_small_screens(school, chromium, fake_wechat, tmp_path, size, viewport, zoom):
    app, origin, lesson_id, number, picture = school
    context = chromium.new_context(viewport=viewport, device_scale_factor=2, is_mobile=True, has_touch=True,
                                   locale="zh-CN", bypass_csp=True,
                                   user_agent="Mozilla/5.0 (iPhone) MicroMessenger/8.0.50 NetType/WIFI")
    who = {"openid": NEWCOMER}
    handlers = {}

    def as_user(openid):
        if who["openid"] == openid and openid in handlers:
            return
        for handler in handlers.values():
            context.unroute("**/*", handler)
        handlers.clear()
        context.clear_cookies()
        handlers[openid] = wechat_authorize(fake_wechat, openid)
        context.route("**/*", handlers[openid])
        who["openid"] = openid

    page = context.new_page()
    found = {}
    try:
        for name, shown in pages(page, origin, lesson_id, number, picture, as_user):
            text_zoom(shown, zoom)
            shown.wait_for_timeout(50)
            shown.screenshot(path=str(tmp_path / f"large-text-{size}-{name}.png"), full_page=True)
            wrong = problems(shown, at_100_percent=zoom == 1)
            if wrong:
                found[name] = wrong
    finally:
        context.close()
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)
