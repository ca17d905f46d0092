"""Forms refused for their CSRF token (a session that ended, a page left open too long): what the
trainee typed is never lost.

- With a session still there, the form answers again at once, what was typed kept (认证登录: the
  phone, never the ID card; an exercise: the choices) and a fresh token, so 提交 simply works.
- Without one, the page says so and offers 重新填写: what was typed waits in the session
  (`TYPED_KEY`, carried across the OAuth return) and fills the form when it opens again.

The ID card number is never kept, echoed or stored: it is typed again.
"""
from __future__ import annotations

import re

from flask import render_template, request, session, url_for
from werkzeug.datastructures import MultiDict

TYPED_KEY = "typed"
EXPIRED_TITLE = "页面已过期"
EXPIRED_NO_SESSION = "页面停留时间过长，登录已失效，刚才的内容没有提交。"
TYPED_MAX = 64  # what a form field can carry (into a bind try: the service refuses longer ID cards)
_CHOICE_FIELD = re.compile(r"^q\d{1,9}$")
_CHOICE = re.compile(r"^[A-Z]$")
_MAX_FIELDS = 200


def typed_fields(endpoint: str | None) -> dict[str, list[str]]:
    """What the refused form held that may be kept: the bind form's phone, an exercise's choices."""
    if endpoint == "h5.bind":
        phone = (request.form.get("phone") or "").strip()[:TYPED_MAX]
        return {"phone": [phone]} if phone else {}
    if endpoint == "h5.exercise":
        kept: dict[str, list[str]] = {}
        for name in list(request.form.keys())[:_MAX_FIELDS]:
            if _CHOICE_FIELD.match(name):
                kept[name] = [v for v in request.form.getlist(name)[:6] if _CHOICE.match(v)]
        return kept
    return {}


def keep_typed() -> None:
    """Keeps what the refused form held for the page it came from (at most one page's worth)."""
    fields = typed_fields(request.endpoint)
    if fields:
        session[TYPED_KEY] = {"path": request.path, "fields": fields}


def take_typed(path: str) -> MultiDict | None:
    """What a refused form of `path` held, once; None when nothing waits for this page."""
    typed = session.get(TYPED_KEY)
    if not isinstance(typed, dict) or typed.get("path") != path:
        return None
    session.pop(TYPED_KEY, None)
    fields = typed.get("fields")
    if not isinstance(fields, dict):
        return None
    return MultiDict([(k, v) for k, values in fields.items() if isinstance(values, list)
                      for v in values if isinstance(v, str)])


def carried_over() -> dict | None:
    """What waits across the OAuth return's fresh session (oauth_return puts it back)."""
    typed = session.get(TYPED_KEY)
    return typed if isinstance(typed, dict) else None


def expired_page():
    """The page of a form refused without a session: what happened, and 重新填写 back to the form."""
    keep_typed()
    kept = bool(session.get(TYPED_KEY))
    retry = request.path if request.endpoint in ("h5.bind", "h5.exercise", "h5.attend") else url_for("h5.learn")
    return render_template("h5/expired.html", message=EXPIRED_NO_SESSION, kept=kept, retry_url=retry,
                           id_card=request.endpoint == "h5.bind"), 400

