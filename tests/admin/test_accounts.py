"""Staff accounts in the console: login and its lockout, the separate session cookie, logout,
password change, roles and the audit log (CONTRACT §9)."""
from __future__ import annotations

import re
from dataclasses import replace

import pytest

from models import AuditEntry, StaffUser, db
from tests.admin.conftest import PASSWORD, csrf, log_in, make_staff
from wxapp import config

PAGES = ["/admin/", "/admin/rosters", "/admin/classes", "/admin/trainees?q=x", "/admin/exports", "/admin/audit",
         "/admin/password", "/admin/attendance", "/admin/notices", "/admin/rosters/fees", "/admin/trainees/1",
         "/admin/classes/X1", "/admin/rosters/template.xlsx", "/admin/staff"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_but_login_redirects_to_login_without_a_session(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")


def test_login_page_has_the_contract_fields_and_a_csrf_token(client):
    page = client.get("/admin/login").get_data(as_text=True)
    assert 'name="username"' in page and 'name="password"' in page and 'name="csrf_token"' in page


def test_login_without_csrf_token_is_refused(app, client):
    make_staff(app, "wang")
    response = client.post("/admin/login", data={"username": "wang", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_login_success_redirects_to_dashboard_and_sets_a_strict_console_cookie(app, client):
    make_staff(app, "wang")
    response = log_in(client, "Wang")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("wxapp_admin="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie and "Expires=" in cookie
    assert not any(c.startswith("wxapp_session=") for c in response.headers.getlist("Set-Cookie"))
    assert "概览" in client.get("/admin/").get_data(as_text=True)
    with app.app_context():
        assert db.session.query(AuditEntry).filter_by(actor="wang", action="logged_in").count() == 1


def test_console_cookie_is_secure_in_production(make_app, monkeypatch):
    from wxapp.admin import session as console_session

    app = make_app()
    app.extensions["settings"] = replace(config.of(app), env="production")
    make_staff(app, "wang")
    response = log_in(app.test_client(), "wang")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(console_session.COOKIE + "="))
    assert "Secure" in cookie


def test_trainee_session_cookie_does_not_log_anyone_into_the_console(app, client):
    make_staff(app, "wang")
    log_in(client, "wang")
    admin_cookie = client.get_cookie("wxapp_admin", path="/admin")
    other = app.test_client()
    other.set_cookie("wxapp_session", admin_cookie.value)  # the console's cookie under the trainee name
    assert other.get("/admin/").status_code == 302


def test_idle_timeout_ends_the_session_after_eight_hours(app, client, monkeypatch):
    import itsdangerous.timed

    make_staff(app, "wang")
    log_in(client, "wang")
    assert client.get("/admin/").status_code == 200
    real = itsdangerous.timed.TimestampSigner.get_timestamp
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp",
                        lambda self: real(self) + 8 * 3600 + 5)
    assert client.get("/admin/").status_code == 302


def test_wrong_password_answers_the_form_in_chinese(app, client):
    make_staff(app, "wang")
    response = log_in(client, "wang", "wrong-password-1")
    assert response.status_code == 200 and "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_five_failures_lock_the_username_for_fifteen_minutes(app, client, redis):
    make_staff(app, "wang")
    for _ in range(5):
        log_in(client, "wang", "wrong-password-1")
    page = log_in(client, "wang").get_data(as_text=True)  # the right password, too late
    assert "锁定 15 分钟" in page
    assert client.get("/admin/").status_code == 302
    ttl = redis.ttl("wxapp:staff:login_lock:wang")
    assert 14 * 60 < ttl <= 15 * 60
    make_staff(app, "liu")
    assert log_in(client, "liu").status_code == 302  # another username is not locked


def test_failures_of_an_unknown_username_count_too(app, client, redis):
    for _ in range(5):
        log_in(client, "nobody", "x")
    assert redis.exists("wxapp:staff:login_lock:nobody")


def test_a_success_clears_the_failure_count(app, client, redis):
    make_staff(app, "wang")
    for _ in range(4):
        log_in(client, "wang", "wrong-password-1")
    assert log_in(client, "wang").status_code == 302
    assert not redis.exists("wxapp:staff:login_fail:wang")


def test_an_inactive_account_cannot_log_in(app, client):
    make_staff(app, "wang")
    with app.app_context():
        db.session.query(StaffUser).update({"active": False})
        db.session.commit()
    assert log_in(client, "wang").status_code == 200


def test_logout_is_a_post_and_ends_the_session(console):
    assert console.get("/admin/logout").status_code == 405
    assert console.post("/admin/logout").status_code == 302
    assert console.get("/admin/").status_code == 302


def test_next_only_goes_to_console_pages(app, client):
    make_staff(app, "wang")
    token = csrf(client)
    response = client.post("/admin/login", data={"username": "wang", "password": PASSWORD, "csrf_token": token,
                                                 "next": "https://evil.example/admin/"})
    assert response.headers["Location"] == "/admin/"


def test_password_change_keeps_this_session_and_ends_the_others(app, console):
    other = app.test_client()
    log_in(other, "wang")
    assert other.get("/admin/").status_code == 200
    new = "Xinmima2028ab"
    response = console.post("/admin/password", data={"current": PASSWORD, "new": new, "repeat": new})
    assert response.status_code == 302
    assert console.get("/admin/").status_code == 200
    assert other.get("/admin/").status_code == 302
    third = app.test_client()
    assert log_in(third, "wang", PASSWORD).status_code == 200
    assert log_in(third, "wang", new).status_code == 302
    with app.app_context():
        assert db.session.query(AuditEntry).filter_by(action="password_changed").count() == 1


@pytest.mark.parametrize("current, new, repeat, message", [
    ("wrong", "Xinmima2028ab", "Xinmima2028ab", "当前密码不正确"),
    (PASSWORD, "Xinmima2028ab", "Xinmima2028ac", "不一致"),
    (PASSWORD, "short1", "short1", "至少 10 位"),
])
def test_password_change_refusals_change_nothing(console, current, new, repeat, message):
    page = console.post("/admin/password", data={"current": current, "new": new, "repeat": repeat})
    assert page.status_code == 200 and message in page.get_data(as_text=True)
    assert console.get("/admin/").status_code == 200


def test_audit_log_is_for_admins_only(app, console, admin_console):
    assert console.get("/admin/audit").status_code == 403
    page = admin_console.text("/admin/audit")
    assert "操作记录" in page and "wang" in page and "登录" in page


def test_staff_create_role_option(app, runner):
    result = runner.invoke(args=["staff", "create", "boss", "--password", PASSWORD, "--role", "admin"])
    assert result.exit_code == 0 and "已创建管理员账号：boss" in result.output
    assert runner.invoke(args=["staff", "create", "x2y", "--password", PASSWORD, "--role", "root"]).exit_code == 2
    with app.app_context():
        assert {u.username: u.role for u in db.session.query(StaffUser)} == {"boss": "admin"}


def test_the_database_refuses_an_unknown_role(app):
    from sqlalchemy.exc import IntegrityError

    with app.app_context():
        db.session.add(StaffUser(username="zz1", password_hash="x", role="root"))
        with pytest.raises(IntegrityError):
            db.session.commit()




def test_assets_are_served_by_the_app_without_a_session(client):
    page = client.get("/admin/login").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css)(?:\?v=[0-9a-f]+)?)"', page)
    assert len(assets) == 3 and all(a.startswith("/admin/static/") for a in assets)
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200 and len(response.data) > 500
    assert b"htmx" in client.get("/admin/static/vendor/htmx.min.js").data
