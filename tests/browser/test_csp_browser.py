"""The trainee pages under their real Content-Security-Policy: nothing they load or run is refused."""
from __future__ import annotations

import time

import pytest
from flask import send_from_directory

from tests import factories
from tests.browser.test_player_browser import MEDIA
from tests.study_util import lesson

pytestmark = pytest.mark.browser

OPENID = "oBrowserCsp0000000000000001"


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


def test_bind_portal_and_player_run_under_the_policy(live_app, phone):
    app, origin = live_app
    app.add_url_rule("/test-media/<path:name>", "test_media", lambda name: send_from_directory(MEDIA, name))
    lesson_id = lesson(app, duration_s=8, hours=2, video_url=f"{origin}/test-media/lesson-8s.webm")
    factories.trainee(app, phone="13912340001", id_card="320505198001010017")
    page = phone(OPENID, bypass_csp=False)
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
    beats: list[int] = []
    page.on("response", lambda response: beats.append(response.status) if "/api/play/heartbeat" in response.url else None)

    page.goto(f"{origin}/h5/bind")
    assert page.evaluate("1 + 1") == 2  # Playwright's own evaluate is not the page's eval
    page.fill("#phone", "13912340001")
    page.fill("#id_card", "320505198001010017")
    page.click("#bind-submit")
    page.wait_for_url(f"{origin}/h5/learn")
    page.goto(f"{origin}/h5/lesson/{lesson_id}")
    page.locator("#video").click()
    deadline = time.monotonic() + 15
    while 200 not in beats and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert 200 in beats  # player.js runs and reaches the API
    assert refused == []
