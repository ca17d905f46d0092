"""The lesson list and the exercise as a trainee sees them on a phone: finished lessons ticked, the
next one standing out, lengths in minutes and seconds; a wrong choice red with a cross (never a
green tick), the right answers only once all are right."""
from __future__ import annotations

import pytest

from tests import factories
from tests.browser.conftest import screenshot
from tests.h5.test_exercise_page import QUESTIONS, video_done
from tests.h5.test_first_week_pages import completed
from tests.study_util import lesson

pytestmark = pytest.mark.browser

OPENID = "oBrowserFirstWeek000000001"
RED = "rgb(198, 40, 40)"  # WeUI's red darkened to 4.5:1 (static/h5.css)


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


@pytest.fixture
def setup(live_app):
    app, origin = live_app
    ids = [lesson(app, duration_s=52, hours=6, title="第1讲 法规"),
           lesson(app, duration_s=596, hours=5, title="第2讲 安全", questions=QUESTIONS),
           lesson(app, duration_s=2700, hours=5, title="第3讲 绿色施工")]
    trainee_id = factories.trainee(app, openid=OPENID)
    completed(app, trainee_id, ids[0])
    return app, origin, ids, trainee_id


def test_the_lesson_list_shows_what_is_done_and_what_is_next(setup, phone):
    app, origin, ids, _ = setup
    page = phone(OPENID)
    page.goto(f"{origin}/h5/learn")
    done, following = page.locator(f"#lesson-{ids[0]}"), page.locator(f"#lesson-{ids[1]}")
    assert "已完成 ✓" in done.inner_text() and "52秒" in done.inner_text()
    assert "下一讲" in following.inner_text() and "9分56秒" in following.inner_text()
    assert following.evaluate("e => getComputedStyle(e).backgroundColor") != done.evaluate(
        "e => getComputedStyle(e).backgroundColor")
    assert page.locator("#continue").inner_text() == "继续学习：第2讲 安全"
    screenshot(page, "first-week-1-lessons")


def test_a_wrong_choice_is_red_and_right_answers_wait_for_a_pass(setup, phone):
    app, origin, ids, trainee_id = setup
    video_done(app, trainee_id, ids[1])
    page = phone(OPENID)
    page.goto(f"{origin}/h5/lesson/{ids[1]}/exercise")
    page.locator("#question-1 label").nth(0).click()  # A: wrong
    page.locator("#question-2 label").nth(0).click()  # A and B: right
    page.locator("#question-2 label").nth(1).click()
    page.click("#exercise-submit")
    wrong = page.locator("#question-1 .option_wrong")
    assert wrong.count() == 1
    assert wrong.locator(".option__mark_wrong").evaluate("e => getComputedStyle(e).color") == RED
    assert not wrong.locator(".weui-icon-checked").is_visible()  # no green tick on the wrong choice
    assert page.locator(".option_right").count() == 0
    screenshot(page, "first-week-2-exercise-wrong")

    page.locator("#question-1 label").nth(2).click()  # C
    page.click("#exercise-submit")
    assert "全部答对" in page.locator("#exercise-result").inner_text()
    rights = page.locator(".option_right")
    assert rights.count() == 3 and "✓ 正确答案" in rights.first.inner_text()
    assert page.locator("#next-lesson").inner_text() == "下一讲：第3讲 绿色施工"
    screenshot(page, "first-week-3-exercise-right")
