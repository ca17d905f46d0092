"""Fixtures of the staff console tests: staff accounts and logged-in clients."""
from __future__ import annotations

import re

import pytest

from models import db
from services.identity import staff

PASSWORD = "Jiaowu2027ok"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path: str = "/admin/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return TOKEN.search(page).group(1)


def make_staff(app, username: str, role: str = "staff") -> None:
    with app.app_context():
        staff.create(db.session, username, PASSWORD, "test", role)


def log_in(client, username: str, password: str = PASSWORD):
    return client.post("/admin/login", data={"username": username, "password": password,
                                             "csrf_token": csrf(client)})


class Console:
    """A test client logged in to the console; `post` adds the page's CSRF token."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def get(self, path, **kw):
        return self.client.get(path, **kw)

    def post(self, path, data=None, **kw):
        if self.token is None:
            self.token = csrf(self.client, "/admin/")
        return self.client.post(path, data={**(data or {}), "csrf_token": self.token}, **kw)

    def text(self, path, **kw) -> str:
        response = self.get(path, **kw)
        assert response.status_code == 200, (path, response.status_code)
        return response.get_data(as_text=True)


def console_on(app, username: str = "wang", role: str = "staff") -> Console:
    make_staff(app, username, role)
    client = app.test_client()
    assert log_in(client, username).status_code == 302
    return Console(client)


@pytest.fixture
def console(app):
    """A client logged in as staff member `wang` (role staff)."""
    return console_on(app)


@pytest.fixture
def admin_console(app):
    """A client logged in as `chen` (role admin)."""
    make_staff(app, "chen", "admin")
    client = app.test_client()
    assert log_in(client, "chen").status_code == 302
    return Console(client)
