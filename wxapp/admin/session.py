"""The console's own session cookie, apart from the trainees' (CONTRACT §9 / issue 14).

Requests under /admin/ read and write the cookie `wxapp_admin` (path /admin, HttpOnly,
SameSite=Strict, Secure in production); the trainee session cookie is neither read nor changed
there. The idle timeout is enforced by the cookie's signature: it is re-signed on every console
request, and one signed more than IDLE_S ago opens as an empty session (logged out), whatever
the browser kept.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin

from wxapp import config

COOKIE = "wxapp_admin"
PREFIX = "/admin"
IDLE_S = 8 * 3600


def _console() -> bool:
    path = request.path
    return path == PREFIX or path.startswith(PREFIX + "/")


class ConsoleAwareSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request_):
        if not _console():
            return super().open_session(app, request_)
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request_.cookies.get(COOKIE)
        if not value:
            return self.session_class()
        try:
            return self.session_class(serializer.loads(value, max_age=IDLE_S))
        except Exception:  # expired or tampered: a fresh, empty session (logged out)
            return self.session_class()

    def get_cookie_name(self, app: Flask) -> str:
        return COOKIE if _console() else super().get_cookie_name(app)

    def get_cookie_path(self, app: Flask) -> str:
        return PREFIX if _console() else super().get_cookie_path(app)

    def get_cookie_samesite(self, app: Flask) -> str | None:
        return "Strict" if _console() else super().get_cookie_samesite(app)

    def get_cookie_httponly(self, app: Flask) -> bool:
        return True if _console() else super().get_cookie_httponly(app)

    def get_cookie_secure(self, app: Flask) -> bool:
        if _console():
            return config.of(app).production
        return super().get_cookie_secure(app)

    def get_expiration_time(self, app: Flask, session: SessionMixin) -> datetime | None:
        if _console():
            return datetime.now(UTC) + timedelta(seconds=IDLE_S) if session.permanent else None
        return super().get_expiration_time(app, session)


def install(app: Flask) -> None:
    app.session_interface = ConsoleAwareSessionInterface()
