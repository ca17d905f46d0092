"""Nothing a person or a client can type gives a 500: URLs, heartbeat bodies, forwarded hosts."""
from __future__ import annotations

import json

import pytest

from tests import factories
from tests.h5.oauth_util import login
from tests.h5.test_player_pages import beat, open_page
from tests.study_util import lesson

OPENID = "oHostileUser000000000000001"

HOSTILE_PATHS = [
    "/h5/lesson/99999999999999999999", "/h5/lesson/2147483648", "/h5/lesson/-1", "/h5/lesson/1e9",
    "/h5/lesson/0x10", "/h5/lesson/%00", "/h5/lesson/1%0a", "/h5/lesson/99999999999999999999/exercise",
    "/h5/attend/" + "A" * 5000, "/h5/attend/%ff%fe", "/api/attendance/" + "9" * 40,
    "/api/attendance/../../etc/passwd", "/api/attendance/x/qr.png", "/h5/learn?next=//evil.com",
    "/h5/%2e%2e/%2e%2e/", "/h5/lesson/１２", "/api/courses?%zz",
]

HOSTILE_BODIES = [
    "[" * 100_000 + "]" * 100_000,                         # RecursionError in json
    '{"a":' * 50_000 + "1" + "}" * 50_000,
    "",                                                    # empty
    "null", "[]", '"x"', "1e999999",                       # not an object / infinities
    '{"lesson_id": 1e400, "position": 1, "tab": "x", "state": "playing"}',
    '{"lesson_id": 99999999999999999999, "position": 1, "tab": "1.aaaaaaaaaaaaaaaaaaaaaa", "state": "playing"}',
    '{"lesson_id": true, "position": 1, "tab": "x", "state": "playing"}',
    '{"lesson_id": 1, "position": NaN, "tab": "x", "state": "playing"}',
    '{"lesson_id": 1, "position": [1], "tab": {"a": 1}, "state": "playing"}',
    '{"lesson_id": 1, "position": 1, "tab": "' + "9" * 5000 + '", "state": "playing"}',
    '{"lesson_id": 1, "position": 1, "tab": "99999999999999999999.aaaaaaaaaaaaaaaaaaaaaa", "state": "playing"}',
    "\xff\xfe garbage",
    '{"lesson_id": 1, "position": 1, "tab": "x", "state": "' + "p" * 2000 + '"}',
]


@pytest.fixture
def me(app, fake_wechat):
    factories.trainee(app, openid=OPENID)
    client = app.test_client()
    login(client, fake_wechat, OPENID)
    return client


@pytest.fixture
def app(make_app, fake_wechat):
    return make_app(WECHAT_API_BASE=fake_wechat.base_url)


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_hostile_paths_answer_a_page_not_a_500(me, path):
    r = me.get(path)
    assert r.status_code in (200, 302, 308, 400, 404), (path, r.status_code)


def test_a_lesson_number_past_any_column_is_404(me):
    r = me.get("/h5/lesson/99999999999999999999")
    assert r.status_code == 404 and "页面不存在" in r.get_data(as_text=True)


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_hostile_heartbeats_answer_400_or_409(me, app, body):
    lesson_id = lesson(app)
    open_page(me, lesson_id)
    r = me.post("/api/play/heartbeat", data=body.replace("1,", f"{lesson_id},", 1).encode("utf-8", "surrogatepass"),
                content_type="text/plain")
    assert r.status_code in (400, 409), r.status_code
    assert r.is_json and isinstance(r.json["error"], str)


def test_deeply_nested_json_as_application_json_is_400(me):
    r = me.post("/api/play/heartbeat", data="[" * 200_000, content_type="application/json")
    assert r.status_code == 400 and r.json == {"error": "请求格式不正确"}


def test_a_valid_heartbeat_still_works_beside_them(me, app):
    lesson_id = lesson(app)
    tab = open_page(me, lesson_id)
    assert beat(me, lesson_id, tab, 0).status_code == 200


@pytest.mark.parametrize("header", ["X-Forwarded-Host", "Host"])
def test_a_clients_host_never_becomes_a_redirect_target(make_app, fake_wechat, header):
    app = make_app(WECHAT_API_BASE=fake_wechat.base_url, PROXY_COUNT=1)
    client = app.test_client()
    for path in ("/h5//learn", "/h5//bind", "//h5/learn", "/h5/learn/"):
        r = client.get(path, headers={header: "evil.com", "X-Forwarded-Proto": "https"})
        location = r.headers.get("Location", "")
        assert "evil.com" not in location, (path, location)
    r = client.get("/h5//learn", headers={header: "evil.com"})
    assert r.status_code in (301, 302, 308) and r.headers["Location"].startswith("/h5/learn")


def test_json_error_answers_are_json(me):
    r = me.post("/api/play/heartbeat", data=json.dumps({"x": 1}), content_type="application/json")
    assert r.status_code == 400 and r.json == {"error": "请求格式不正确"}
