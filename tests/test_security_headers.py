"""Every H5 page and JSON answer carries the security headers; personal ones are never cached."""
from __future__ import annotations

import pytest

from tests import factories
from tests.h5.oauth_util import login
from wxapp.security import content_security_policy

OPENID = "oHeadersUser000000000000001"


@pytest.fixture
def app(make_app, fake_wechat):
    return make_app(WECHAT_API_BASE=fake_wechat.base_url, WECHAT_JSSDK_URL="https://res.wx.qq.com/open/js/jweixin-1.6.0.js")


@pytest.fixture
def me(app, fake_wechat):
    factories.trainee(app, openid=OPENID)
    client = app.test_client()
    login(client, fake_wechat, OPENID)
    return client


def directives(header: str) -> dict[str, str]:
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else "" for part in header.split("; ")}


@pytest.mark.parametrize("path", ["/h5/learn", "/h5/bind", "/api/courses", "/h5/lesson/999", "/api/attendance/x"])
def test_personal_pages_and_json_carry_the_headers(me, path):
    r = me.get(path)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] in ("strict-origin-when-cross-origin", "no-referrer")
    assert r.headers["Cache-Control"] == "no-store"
    csp = directives(r.headers["Content-Security-Policy"])
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert "https://res.wx.qq.com" in csp["script-src"].split() and "'unsafe-inline'" not in csp["script-src"]
    assert "Strict-Transport-Security" not in r.headers  # testing is not production


def test_the_page_loads_the_jssdk_the_policy_allows(me):
    page = me.get("/h5/learn").get_data(as_text=True)
    assert 'src="https://res.wx.qq.com/open/js/jweixin-1.6.0.js"' in page


def test_a_view_keeps_its_own_stricter_referrer_policy(me):
    assert me.get("/h5/attend/whatever").headers["Referrer-Policy"] == "no-referrer"


def test_healthz_json_is_not_cached(client):
    r = client.get("/healthz")
    assert r.headers["Cache-Control"] == "no-store" and r.headers["X-Content-Type-Options"] == "nosniff"


def test_static_assets_stay_cacheable(client):
    r = client.get("/static/h5.css")
    assert r.status_code == 200 and r.headers.get("Cache-Control") != "no-store"


def test_production_adds_hsts(monkeypatch, make_app, tmp_path):
    from tests.conftest import base_settings
    from wxapp import create_app

    settings = base_settings("postgresql+psycopg://postgres@127.0.0.1:1/none", "redis://127.0.0.1:1/0", str(tmp_path))
    settings.update(WXAPP_ENV="production", WECHAT_API_BASE="https://api.weixin.qq.com/")
    r = create_app(settings).test_client().get("/healthz", base_url="https://wx.example.test")
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert r.status_code == 503  # nothing listens: named down, not a 500


def test_a_custom_jssdk_origin_joins_the_policy():
    assert "https://cdn.example.test" in content_security_policy("https://cdn.example.test/jweixin.js")


def test_only_the_sandbox_lets_its_phone_simulator_frame_the_pages(make_app):
    framed = make_app(WECHAT_API_BASE="http://127.0.0.1:9/dev/api/").test_client().get("/h5/bind")
    assert framed.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert directives(framed.headers["Content-Security-Policy"])["frame-ancestors"] == "'self'"
