"""An attendance QR left unscanned is taken off the screen when it expires and replaced by what to
do (重新验证); a new check follows. Phone-sized Chromium, the 8 s test video."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask import send_from_directory

from tests import factories
from tests.browser.conftest import screenshot
from tests.study_util import lesson

pytestmark = pytest.mark.browser

OPENID = "oBrowserExpiry000000000001"
MEDIA = Path(__file__).with_name("media")
VIDEO = "document.getElementById('video')"


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


@pytest.fixture
def make_app(make_app):
    def factory(**overrides):
        return make_app(**{"ATTENDANCE_INTERVAL_MIN_S": 2, "ATTENDANCE_INTERVAL_MAX_S": 2, "ATTENDANCE_TTL_S": 4,
                           "PLAY_HEARTBEAT_S": 1, **overrides})
    return factory


def test_an_expired_qr_is_replaced_by_what_to_do(live_app, phone):
    app, origin = live_app
    app.add_url_rule("/test-media/<path:name>", "test_media", lambda name: send_from_directory(MEDIA, name))
    lesson_id = lesson(app, duration_s=8, hours=2, video_url=f"{origin}/test-media/lesson-8s.webm")
    factories.trainee(app, openid=OPENID)
    page = phone(OPENID)
    page.goto(f"{origin}/h5/lesson/{lesson_id}")
    page.wait_for_function(f"{VIDEO}.readyState >= 1")
    page.click("#hours-state")
    page.evaluate(f"{VIDEO}.play()")
    page.wait_for_function("!document.getElementById('check').hidden", timeout=15000)
    assert page.locator("#check-qr").is_visible() and not page.locator("#check-over").is_visible()

    page.wait_for_function("!document.getElementById('check-over').hidden", timeout=10000)
    assert not page.locator("#check-qr").is_visible() and not page.locator("#check-countdown").is_visible()
    assert page.evaluate("document.getElementById('check-qr').getAttribute('src')") is None
    assert "二维码已过期" in page.locator("#check-over").inner_text()
    assert page.locator("#check-retry").inner_text() == "重新验证"
    screenshot(page, "player-expiry-1-what-to-do")

    page.click("#check-retry")  # plays again: the server asks for a new check at once
    page.wait_for_function("!document.getElementById('check').hidden && !document.getElementById('check-live').hidden"
                           " && document.getElementById('check-qr').naturalWidth > 0", timeout=15000)
    assert page.locator("#check-expired").is_visible() and not page.locator("#check-over").is_visible()
    screenshot(page, "player-expiry-2-new-qr")
