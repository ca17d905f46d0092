"""When heartbeats fail the player pauses and says why; when they come back it returns to the
furthest point the server recorded, so nothing watched is lost to the jump rule.

The outage is real: the app's Redis is a redis-server of this test's own, frozen with SIGSTOP (a
hung Redis: every heartbeat times out and the server answers an error) and thawed with SIGCONT,
its data intact; then the phone's network is cut (Playwright's offline mode). The video is the
40 s demo lesson, served by the live app.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis as redis_lib
from flask import send_from_directory

from tests import factories
from tests.browser.conftest import screenshot
from tests.study_util import lesson

pytestmark = pytest.mark.browser

OPENID = "oBrowserOutage000000000001"
MEDIA = Path(__file__).resolve().parents[2] / "wxapp" / "sandbox" / "media"
VIDEO = "document.getElementById('video')"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def own_redis():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(50):
        try:
            redis_lib.Redis.from_url(url).ping()
            break
        except redis_lib.ConnectionError:
            time.sleep(0.1)
    yield process, url
    os.kill(process.pid, signal.SIGCONT)
    process.terminate()
    process.wait(10)


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


@pytest.fixture
def make_app(make_app, own_redis):
    """Heartbeats every second, no attendance check within the test."""
    def factory(**overrides):
        return make_app(**{"REDIS_URL": own_redis[1], "PLAY_HEARTBEAT_S": 1, "ATTENDANCE_INTERVAL_MIN_S": 600,
                           "ATTENDANCE_INTERVAL_MAX_S": 600, **overrides})
    return factory


def clock_seconds(text: str) -> int:
    minutes, seconds = text.strip().split(":")
    return int(minutes) * 60 + int(seconds)


def synced(page) -> int:
    return clock_seconds(page.locator("#synced").inner_text())


def test_the_player_pauses_while_heartbeats_fail_and_returns_to_what_the_server_recorded(live_app, own_redis, phone):
    app, origin = live_app
    app.add_url_rule("/test-media/<path:name>", "test_media", lambda name: send_from_directory(MEDIA, name))
    lesson_id = lesson(app, duration_s=40, hours=2, video_url=f"{origin}/test-media/lesson-3.mp4")
    factories.trainee(app, openid=OPENID)
    page = phone(OPENID)
    page.goto(f"{origin}/h5/lesson/{lesson_id}")
    page.wait_for_function(f"{VIDEO}.readyState >= 1")
    assert page.evaluate(f"{VIDEO}.duration") == pytest.approx(40, abs=0.5)  # H.264 plays here
    page.click("#hours-state")
    page.evaluate(f"{VIDEO}.play()")
    page.wait_for_function("document.getElementById('synced').textContent >= '0:03'", timeout=15000)

    os.kill(own_redis[0].pid, signal.SIGSTOP)  # Redis hangs: heartbeats time out on the server
    page.wait_for_function("!document.getElementById('offline').hidden", timeout=15000)
    assert page.evaluate(f"{VIDEO}.paused")
    assert page.locator("#offline-text").inner_text().strip() not in ("", "网络连接中断。")  # the server's words
    assert page.locator("#offline-wait").is_visible() and not page.locator("#offline-resume").is_visible()
    paused_at = page.evaluate(f"{VIDEO}.currentTime")
    recorded = synced(page)
    assert paused_at > recorded + 1  # the video ran on while the server heard nothing
    page.evaluate(f"{VIDEO}.play()")  # no playing while nothing is recorded
    assert page.evaluate(f"{VIDEO}.paused")
    screenshot(page, "player-outage-1-paused")

    os.kill(own_redis[0].pid, signal.SIGCONT)
    # A beat still waiting on the frozen Redis (not yet timed out) is carried out when it thaws, and
    # may record up to where the video stopped: then there is nothing to go back over and it plays
    # on. Otherwise it goes back to the server's record first. Either way it never plays past it.
    page.wait_for_function(f"(document.getElementById('offline').hidden && !{VIDEO}.paused)"
                           " || !document.getElementById('offline-back').hidden", timeout=15000)
    if page.locator("#offline-back").is_visible():
        back = page.locator("#offline-back").inner_text()
        rewound = page.evaluate(f"{VIDEO}.currentTime")
        assert "已退回到学校记录的位置" in back and rewound < paused_at - 0.5
        assert clock_seconds(back.split("位置 ")[1][:5].strip("，")) == int(rewound) <= synced(page)
        screenshot(page, "player-outage-2-back")
        page.click("#offline-resume")
    else:
        assert synced(page) >= int(paused_at) - 1  # the thawed beats recorded what was watched
        assert "连接已恢复" in page.locator("#toast-text").inner_text()
    page.wait_for_function(f"document.getElementById('offline').hidden && !{VIDEO}.paused")
    # Watching from the rewind point counts again: the server's record passes where the video stopped.
    page.wait_for_function(f"(() => {{ const [m, s] = document.getElementById('synced').textContent.split(':');"
                           f" return m * 60 + +s >= {int(paused_at) + 2}; }})()", timeout=20000)

    page.context.set_offline(True)  # now the phone loses its network, between two beats
    page.wait_for_function("!document.getElementById('offline').hidden", timeout=15000)
    assert page.locator("#offline-text").inner_text().strip() == "网络连接中断。"
    assert page.evaluate(f"{VIDEO}.paused")
    screenshot(page, "player-outage-3-offline")
    page.context.set_offline(False)
    # Within a second of the server's record it just plays on; further, it goes back first.
    page.wait_for_function(f"(document.getElementById('offline').hidden && !{VIDEO}.paused)"
                           " || !document.getElementById('offline-back').hidden", timeout=15000)
    screenshot(page, "player-outage-4-online")
    if page.locator("#offline-back").is_visible():
        page.click("#offline-resume")
    else:
        assert "连接已恢复" in page.locator("#toast-text").inner_text()
    page.wait_for_function(f"document.getElementById('offline').hidden && !{VIDEO}.paused")
