"""A trainee watches a lesson to its hours on a phone-sized Chromium: the player resumes, refuses
a forward seek, stops for a random attendance check whose QR another session of the trainee's
own WeChat confirms, resumes, and at the end a closing check earns the lesson.

The video is `media/lesson-8s.webm` (8 s, VP8, 320x180, ~100 KB), made once with
`ffmpeg -f lavfi -i testsrc=size=320x180:rate=15:duration=8 -c:v libvpx -b:v 120k -g 15 -an`
and served by the live app itself: the page loads nothing but 127.0.0.1.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest
import zxingcpp
from flask import send_from_directory
from PIL import Image

from models import LessonProgress, db
from tests import factories
from tests.browser.conftest import screenshot
from tests.study_util import lesson

pytestmark = pytest.mark.browser

OPENID = "oBrowserPlayer0000000000001"
MEDIA = Path(__file__).with_name("media")
VIDEO = "document.getElementById('video')"


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url  # one backend is enough for the browser; the rules are tested on both


@pytest.fixture
def make_app(make_app):
    """Checks after 2 s of playing, heartbeats every 2 s (a loaded machine may delay one by seconds,
    and a gap of four heartbeats earns nothing): the whole story fits in 8 s of video."""
    def factory(**overrides):
        return make_app(**{"ATTENDANCE_INTERVAL_MIN_S": 2, "ATTENDANCE_INTERVAL_MAX_S": 2, "ATTENDANCE_TTL_S": 60,
                           "PLAY_HEARTBEAT_S": 2, **overrides})
    return factory


@pytest.fixture
def lesson_id(live_app):
    app, origin = live_app
    app.add_url_rule("/test-media/<path:name>", "test_media", lambda name: send_from_directory(MEDIA, name))
    lesson_id = lesson(app, duration_s=8, hours=2, video_url=f"{origin}/test-media/lesson-8s.webm")
    trainee_id = factories.trainee(app, openid=OPENID)
    with app.app_context():  # watched and confirmed up to 2.5 s last time, paused at 2 s
        db.session.add(LessonProgress(trainee_id=trainee_id, lesson_id=lesson_id, watched="[[0,2.5]]",
                                      credited_seconds=2.5, max_position=2.5, position=2.0))
        db.session.commit()
    return lesson_id


def wait_for_check(page) -> str:
    """Waits for the QR dialog; returns the text of the QR, decoded from what the page shows."""
    page.wait_for_function("!document.getElementById('check').hidden", timeout=15000)
    page.wait_for_function("document.getElementById('check-qr').complete && "
                           "document.getElementById('check-qr').naturalWidth > 0")
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(page.locator("#check-qr").screenshot())))
    assert len(found) == 1
    return found[0].text


def confirm_from(phone, url: str, name: str) -> None:
    scanner = phone(OPENID)  # the trainee's own WeChat, another session: the phone scanning the screen
    scanner.goto(url)
    assert "周一" in scanner.locator("#attend-name").inner_text()
    scanner.click("#attend-confirm")
    assert "验证成功" in scanner.locator("#attend-message").inner_text()
    screenshot(scanner, name)
    scanner.close()


def test_watching_a_lesson_to_its_hours_with_checks(live_app, lesson_id, phone):
    app, origin = live_app
    page = phone(OPENID)
    page.goto(f"{origin}/h5/lesson/{lesson_id}")
    page.wait_for_function(f"{VIDEO}.readyState >= 1 && Math.abs({VIDEO}.currentTime - 2) < 0.3")  # resumed

    page.evaluate(f"{VIDEO}.currentTime = 7")  # past anything watched: refused
    page.wait_for_function(f"!{VIDEO}.seeking && {VIDEO}.currentTime <= 2.6")
    assert "不能快进" in page.locator("#toast-text").inner_text()
    screenshot(page, "player-1-seek-refused")

    page.click("#hours-state")  # any tap: the page may now start playback
    page.evaluate(f"{VIDEO}.play()")
    url = wait_for_check(page)
    assert url.startswith(f"{origin}/h5/attend/")
    assert page.evaluate(f"{VIDEO}.paused")
    paused_at = page.evaluate(f"{VIDEO}.currentTime")
    assert 3 <= paused_at < 7
    screenshot(page, "player-2-check")

    confirm_from(phone, url, "player-3-attend-confirmed")
    page.wait_for_function(f"document.getElementById('check').hidden && !{VIDEO}.paused", timeout=10000)
    # The spent QR leaves the page: the next check's dialog can't show it while its own QR loads.
    assert page.evaluate("document.getElementById('check-qr').getAttribute('src')") is None
    page.wait_for_function(f"{VIDEO}.currentTime > {paused_at + 0.5}")  # playing again

    seen = {url}
    while True:  # more checks at random, and a closing one when the video ends unconfirmed
        url = wait_for_check(page)
        assert url not in seen
        seen.add(url)
        ended = page.evaluate(f"{VIDEO}.ended")
        confirm_from(phone, url, f"player-4-check-{len(seen)}")
        if ended:
            break
        page.wait_for_function(f"document.getElementById('check').hidden && !{VIDEO}.paused", timeout=10000)
    page.wait_for_function("document.getElementById('hours-state').textContent === '已获得'")
    screenshot(page, "player-5-earned")
    page.reload()  # and so it stays: the page of a lesson earned says so, and seeking is free
    page.wait_for_function(f"document.getElementById('hours-state').textContent === '已获得' && {VIDEO}.readyState >= 1")
    page.evaluate(f"{VIDEO}.currentTime = 7")
    page.wait_for_function(f"!{VIDEO}.seeking && {VIDEO}.currentTime > 6.5")
    courses = page.request.get(f"{origin}/api/courses").json()
    assert courses[0]["hours_earned"] == 2 and courses[0]["lessons"][0]["completed"] is True


def test_a_page_left_open_stops_when_staff_unbind_the_wechat(live_app, lesson_id, phone):
    app, origin = live_app
    page = phone(OPENID)
    page.goto(f"{origin}/h5/lesson/{lesson_id}")
    page.wait_for_function(f"{VIDEO}.readyState >= 1")
    result = app.test_cli_runner().invoke(
        args=["trainee", "unbind", "13912340001", "--by", "王老师", "--reason", "学员换了手机"])
    assert result.exit_code == 0, result.output

    page.click("#hours-state")
    page.evaluate(f"{VIDEO}.play()")  # the first heartbeat learns the page was closed
    page.wait_for_function("!document.getElementById('stopped').hidden", timeout=10000)
    assert "不再绑定" in page.locator("#stopped-text").inner_text()
    assert page.evaluate(f"{VIDEO}.paused")
    screenshot(page, "player-6-closed-by-unbind")
