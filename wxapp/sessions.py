"""The signed-cookie session, minus the pointless re-signing of an unchanged cookie on routes
that are called many times a minute (`@keeps_cookie`, e.g. the player's heartbeat).

Flask refreshes a permanent session's cookie on every response so that its lifetime slides;
for a heartbeat every few seconds that is an HMAC, a compression and a Set-Cookie header each
time (a beacon's answer is not even read), and the page load that started the player has just
refreshed it. A changed session is still saved.
"""
from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin


def keeps_cookie(view):
    """Marks a view whose answers never need to refresh an unchanged session cookie."""
    view.keeps_session_cookie = True
    return view


class SessionInterface(SecureCookieSessionInterface):
    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        view = app.view_functions.get(request.endpoint or "")
        if not session.modified and getattr(view, "keeps_session_cookie", False):
            return False
        return super().should_set_cookie(app, session)
