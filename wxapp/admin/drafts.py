"""What a staff member typed into a form when the session had ended (idle 8 hours, logged out
elsewhere): kept in the fresh console session, carried through the login, and put back into the
same form on the page it came from (`static/draft.js` fills it), so nothing typed is lost.

Passwords, CSRF tokens, files and values holding a phone or ID card number are never kept (the
draft travels in the signed, not encrypted, cookie); the rest is cut to what a cookie holds. A
draft is shown once, on its page, and forgotten after `TTL_S`.
"""
from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

from flask import request, session

KEY = "draft"
TTL_S = 30 * 60
MAX_VALUE, MAX_TOTAL = 1000, 2500
SECRET_FIELDS = {"csrf_token", "password", "current", "new", "repeat", "token", "confirm"}
NO_DRAFT_PATHS = {"/admin/login", "/admin/logout", "/admin/password"}
PERSONAL_NUMBER = re.compile(r"\d{11}|\d{17}[\dXx]|\d{15}")


def _page_of_form() -> str:
    """The console page the form was on (the Referer's path), else the console's start page."""
    referrer = urlsplit(request.referrer or "")
    same_origin = not referrer.netloc or referrer.netloc == request.host
    if same_origin and referrer.path.startswith("/admin/") and referrer.path not in NO_DRAFT_PATHS:
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return "/admin/"


def keep() -> str:
    """Keeps the posted form (what may be kept of it) in the session; returns the page to go back
    to after logging in."""
    page = _page_of_form()
    if request.method != "POST" or request.path in NO_DRAFT_PATHS:
        return page
    fields: dict[str, list[str]] = {}
    total = 0
    for name, values in request.form.lists():
        if name in SECRET_FIELDS or "password" in name.lower():
            continue
        kept = [v[:MAX_VALUE] for v in values if not PERSONAL_NUMBER.search(v.replace(" ", "").replace("-", ""))]
        if not kept:
            continue
        total += sum(len(v) for v in kept) + len(name)
        if total > MAX_TOTAL:
            break
        fields[name] = kept
    if fields:
        session[KEY] = {"page": urlsplit(page).path, "action": request.path, "fields": fields, "at": int(time.time())}
    return page


def carried(saved: object) -> None:
    """Puts a draft kept before the login back into the new session."""
    if isinstance(saved, dict):
        session[KEY] = saved


def for_this_page() -> dict | None:
    """The draft to put back into this page's form, once; None when there is none for it."""
    draft = session.get(KEY)
    if not isinstance(draft, dict):
        return None
    if time.time() - float(draft.get("at", 0)) > TTL_S:
        session.pop(KEY, None)
        return None
    if draft.get("page") != request.path:
        return None
    session.pop(KEY, None)
    return {"action": draft.get("action"), "fields": draft.get("fields", {})}
