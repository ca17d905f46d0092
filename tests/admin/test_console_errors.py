"""Errors inside the console's layout (404, 403, 500 with the menu; 503 without it), and a form
posted after the session ended: log in again, back to the form with what was typed (never passwords)."""
from __future__ import annotations

import json
import re

import itsdangerous.timed
import pytest
from sqlalchemy.exc import OperationalError

from services.admin import reports
from tests import factories
from tests.admin.conftest import PASSWORD, csrf

MENU = 'href="/admin/rosters"'


def test_a_missing_page_is_shown_inside_the_layout_with_its_menu(console):
    for path in ("/admin/classes/NOPE", "/admin/trainees/999999", "/admin/no-such-page"):
        response = console.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 404 and "页面不存在" in page and MENU in page and 'id="console-error"' in page


def test_a_forbidden_page_is_shown_inside_the_layout(console):
    response = console.get("/admin/audit")
    assert response.status_code == 403 and MENU in response.get_data(as_text=True)


def test_a_server_error_is_shown_inside_the_layout(app, console, monkeypatch):
    def broken(session):
        raise RuntimeError("boom")

    monkeypatch.setattr(reports, "sizes", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = console.get("/admin/exports")
    page = response.get_data(as_text=True)
    assert response.status_code == 500 and "系统繁忙" in page and MENU in page and "boom" not in page


def test_a_database_outage_is_a_503_page_without_the_menu(app, console, monkeypatch):
    def down(session):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(reports, "sizes", down)
    response = console.get("/admin/exports")
    page = response.get_data(as_text=True)
    assert response.status_code == 503 and "暂时无法访问" in page and MENU not in page and "bootstrap" in page


@pytest.fixture
def expire(monkeypatch):
    """Moves the signing clock past the console's 8-hour idle limit."""
    real = itsdangerous.timed.TimestampSigner.get_timestamp

    def later():
        monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: real(self) + 8 * 3600 + 5)

    return later


def _draft(page: str) -> dict | None:
    found = re.search(r'<script type="application/json" id="draft-data">(.*?)</script>', page, re.S)
    return json.loads(found.group(1)) if found else None


def test_a_form_posted_after_the_session_expired_comes_back_after_logging_in(app, console, expire):
    trainee = factories.trainee(app)
    page_path = f"/admin/trainees/{trainee}"
    token = csrf(console.client, page_path)
    expire()
    response = console.client.post(f"{page_path}/edit", data={"csrf_token": token, "company": "苏州新公司", "phone": ""},
                                    headers={"Referer": f"http://localhost{page_path}"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")
    login = console.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "登录已过期" in login and "内容已保留" in login
    answer = console.client.post("/admin/login", data={"username": "wang", "password": PASSWORD,
                                                       "csrf_token": csrf(console.client), "next": page_path})
    assert answer.headers["Location"] == page_path
    page = console.client.get(page_path).get_data(as_text=True)
    assert _draft(page) == {"action": f"{page_path}/edit", "fields": {"company": ["苏州新公司"], "phone": [""]}}
    assert 'id="draft-note"' in page and "draft.js" in page
    assert _draft(console.client.get(page_path).get_data(as_text=True)) is None  # put back once


def test_passwords_tokens_and_personal_numbers_are_never_kept(app, console, expire):
    token = csrf(console.client, "/admin/classes")
    expire()
    console.client.post("/admin/classes", data={"csrf_token": token, "code": "SZ9", "password": "Secret123abc",
                                                "admin_password": "x1", "name": "九班", "q": "139 1234 0001",
                                                "card": "320505198001010017"},
                        headers={"Referer": "http://localhost/admin/classes"})
    console.client.post("/admin/password", data={"csrf_token": token, "current": PASSWORD, "new": "Xinmima2028ab",
                                                 "repeat": "Xinmima2028ab"},
                        headers={"Referer": "http://localhost/admin/password"})
    console.client.post("/admin/login", data={"username": "wang", "password": PASSWORD,
                                              "csrf_token": csrf(console.client), "next": "/admin/classes"})
    draft = _draft(console.client.get("/admin/classes").get_data(as_text=True))
    assert draft == {"action": "/admin/classes", "fields": {"code": ["SZ9"], "name": ["九班"]}}


def test_a_form_posted_after_logout_elsewhere_is_kept_too(app, console):
    trainee = factories.trainee(app)
    page_path = f"/admin/trainees/{trainee}"
    token = csrf(console.client, page_path)
    cookie = console.client.get_cookie("wxapp_admin", path="/admin").value
    other_tab = app.test_client()
    other_tab.set_cookie("wxapp_admin", cookie, path="/admin")
    other_tab.post("/admin/logout", data={"csrf_token": token})  # the session ends on the server
    response = console.client.post(f"{page_path}/unbind", data={"csrf_token": token, "reason": "换手机"},
                                   headers={"Referer": f"http://localhost{page_path}"})
    assert response.status_code == 302 and "next=" in response.headers["Location"]
    console.client.post("/admin/login", data={"username": "wang", "password": PASSWORD,
                                              "csrf_token": csrf(console.client), "next": page_path})
    assert _draft(console.client.get(page_path).get_data(as_text=True))["fields"] == {"reason": ["换手机"]}


def test_a_stale_login_form_is_answered_in_words(app, client):
    response = client.post("/admin/login", data={"username": "wang", "password": PASSWORD, "csrf_token": "stale"})
    assert response.status_code == 400 and "登录页面已过期" in response.get_data(as_text=True)


def test_an_htmx_request_without_a_session_sends_the_whole_page_to_the_login(client):
    response = client.get("/admin/exports/completions/count?major=建筑工程",
                          headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/admin/exports"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/admin/login?next=/admin/exports"


def test_a_stale_token_of_a_logged_in_staff_member_is_refused_with_the_form_kept(app, console):
    trainee = factories.trainee(app)
    page_path = f"/admin/trainees/{trainee}"
    response = console.client.post(f"{page_path}/edit", data={"csrf_token": "stale", "company": "改了"},
                                   headers={"Referer": f"http://localhost{page_path}"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "页面已过期" in page and MENU in page
    assert 'id="back-link"' in page and f'href="{page_path}"' in page
    assert _draft(console.client.get(page_path).get_data(as_text=True))["fields"] == {"company": ["改了"]}
    with app.app_context():
        from models import Trainee, db

        assert db.session.get(Trainee, trainee).company != "改了"
