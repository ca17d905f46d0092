"""Console sessions end on the server (CONTRACT §9): a copied `wxapp_admin` cookie replayed after
logout, after a password change or after the account was disabled opens nothing."""
from __future__ import annotations

from models import AuditEntry, StaffSession, StaffUser, db
from services.identity import staff
from services.timeutil import utcnow
from tests.admin.conftest import PASSWORD, console_on, log_in


def _copy_of_cookie(app, console):
    """A second browser holding a copy of the console's cookie (as a thief would)."""
    cookie = console.client.get_cookie("wxapp_admin", path="/admin")
    thief = app.test_client()
    thief.set_cookie("wxapp_admin", cookie.value, path="/admin")
    assert thief.get("/admin/").status_code == 200  # the copy works while the session lives
    return thief


def _refused(client) -> bool:
    response = client.get("/admin/")
    return response.status_code == 302 and response.headers["Location"].startswith("/admin/login")


def test_a_cookie_replayed_after_logout_is_refused(app):
    console = console_on(app)
    thief = _copy_of_cookie(app, console)
    assert console.post("/admin/logout").status_code == 302
    assert _refused(thief)
    assert _refused(console.client)


def test_logout_ends_only_its_own_session(app):
    console = console_on(app)
    other = app.test_client()
    assert log_in(other, "wang").status_code == 302
    console.post("/admin/logout")
    assert other.get("/admin/").status_code == 200


def test_a_cookie_replayed_after_a_password_change_is_refused(app):
    console = console_on(app)
    thief = _copy_of_cookie(app, console)
    other = app.test_client()
    log_in(other, "wang")
    # The thief's copy is of the very session that changes the password: it survives with it...
    new = "Xinmima2028ab"
    assert console.post("/admin/password", data={"current": PASSWORD, "new": new, "repeat": new}).status_code == 302
    assert console.get("/admin/").status_code == 200
    assert _refused(other)
    # ...until that session logs out.
    console.post("/admin/logout")
    assert _refused(thief)


def test_a_cookie_replayed_after_the_account_is_disabled_is_refused(app):
    console = console_on(app)
    thief = _copy_of_cookie(app, console)
    with app.app_context():
        staff.set_active(db.session, "wang", False, "chen", utcnow())
        assert db.session.query(StaffSession).filter(StaffSession.ended_at.is_(None)).count() == 0
        assert db.session.query(AuditEntry).filter_by(action="staff_disabled", actor="chen").count() == 1
    assert _refused(thief)
    assert _refused(console.client)
    with app.app_context():
        staff.set_active(db.session, "wang", True, "chen", utcnow())
    assert _refused(thief)  # enabling the account again does not revive its old sessions
    assert log_in(app.test_client(), "wang").status_code == 302


def test_the_table_keeps_only_a_hash_of_the_token(app):
    console = console_on(app)
    token_cookie = console.client.get_cookie("wxapp_admin", path="/admin").value
    with app.app_context():
        hashes = [row.token_hash for row in db.session.query(StaffSession)]
    assert len(hashes) == 1 and len(hashes[0]) == 64 and hashes[0] not in token_cookie


def test_an_admin_disables_an_account_in_the_console_and_its_copied_cookie_is_refused(app, admin_console):
    console = console_on(app)
    thief = _copy_of_cookie(app, console)
    assert admin_console.get("/admin/staff").status_code == 200
    assert console.get("/admin/staff").status_code == 403
    page = admin_console.post("/admin/staff/wang/active", data={"active": "0"}, follow_redirects=True)
    assert "已停用账号 wang" in page.get_data(as_text=True)
    assert _refused(thief) and _refused(console.client)
    assert log_in(app.test_client(), "wang").status_code == 200  # the form again: refused
    admin_console.post("/admin/staff/wang/active", data={"active": "1"})
    assert log_in(app.test_client(), "wang").status_code == 302
    refused = admin_console.post("/admin/staff/chen/active", data={"active": "0"}, follow_redirects=True)
    assert "不能停用自己" in refused.get_data(as_text=True)
    assert admin_console.get("/admin/").status_code == 200


def test_the_server_ends_a_session_idle_longer_than_eight_hours_and_notes_activity_sparingly(app):
    from datetime import timedelta

    from services.identity import staff_sessions
    from tests.admin.conftest import make_staff

    make_staff(app, "wang")
    with app.app_context():
        user = db.session.query(StaffUser).one()
        start = utcnow()
        token = staff_sessions.open_session(db.session, user.id, start)
        db.session.commit()
        assert staff_sessions.user_of(db.session, token, start + timedelta(minutes=1)).username == "wang"
        assert db.session.query(StaffSession).one().seen_at == start  # not written on every request
        later = start + timedelta(minutes=10)
        assert staff_sessions.user_of(db.session, token, later) is not None
        assert db.session.query(StaffSession).one().seen_at == later
        assert staff_sessions.user_of(db.session, token, later + timedelta(hours=8, seconds=1)) is None
        assert staff_sessions.user_of(db.session, "not-a-token", later) is None
