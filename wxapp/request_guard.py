"""Input no person types, refused before any view sees it: one guard for every route.

- A NUL character (`%00`) in a query parameter or form field (names and values): PostgreSQL can't
  store one in a text column, and a query comparing with one fails. A query parameter is a line
  from a link or a search box: a line break in it is refused too (it could only be an attempt at
  header injection through a redirect). Refused with 400 and a Chinese message, before anything
  is written. A view whose service checks and logs what was typed (认证登录: a refused try is
  counted and logged) gets the fields as typed: `CHECKED_BY_VIEW`.
- JSON nested deeper than Python's parser goes: a 400, not a RecursionError (`BoundedJSON`).
- Numbers from the query or a form: `number_arg()` reads ASCII digits that fit an INTEGER column
  and refuses anything else (a 20-digit `major`, `²`, `１２`) with a 400; a route's `<int:…>` is
  bounded in wxapp/security.py.
  Anything the database still refuses as data (`DataError`) is a 400 (wxapp/errors.py).

- A body past MAX_CONTENT_LENGTH: read to its end, then 413 (`refuse_too_large`: behind nginx,
  the app's own 413, not the proxy's 502).

The WeChat callback is not a Flask route: it screens its XML itself (wxapp/wechat/security.py).
"""
from __future__ import annotations

import re

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from wxapp.security import INT_MAX

REFUSED = "提交的内容含有无法识别的字符，请检查后重新填写。"
NUMBER_REFUSED = "链接中的编号不正确，请返回上一页重新选择。"
CHECKED_BY_VIEW = frozenset({"h5.bind"})
_NOT_IN_QUERY = re.compile("[\x00\r\n]")
_NOT_IN_FORM = re.compile("\x00")
_NUMBER = re.compile("[0-9]{1,10}")
DRAIN_MAX = 32 * 1024 * 1024  # twice the app's limit, above the README's nginx client_max_body_size
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class InputRefused(BadRequest):
    """A 400 whose page or JSON says, in Chinese, what was wrong (wxapp/errors.py renders it)."""

    def __init__(self, chinese: str = REFUSED):
        super().__init__(description="request refused: a character no form or link carries")
        self.chinese = chinese


def number(raw: str | None, upper: int = INT_MAX) -> int | None:
    """`raw` as a number of at most `upper`, or None: only ASCII digits count."""
    text = (raw or "").strip()
    if not _NUMBER.fullmatch(text):
        return None
    value = int(text)
    return value if value <= upper else None


def number_arg(raw: str | None, upper: int = INT_MAX) -> int | None:
    """A number from a query or form field: None when it was left out or empty, InputRefused when
    it is anything but a number that fits (never silently ignored: the page would lie)."""
    if raw is None or not raw.strip():
        return None
    value = number(raw, upper)
    if value is None:
        raise InputRefused(NUMBER_REFUSED)
    return value


def _hostile(pairs, pattern: re.Pattern[str]) -> bool:
    return any(pattern.search(key) or pattern.search(value) for key, value in pairs)


def refuse_too_large() -> None:
    """before_request: a body past MAX_CONTENT_LENGTH is read to its end, then refused (413).

    Answered unread, the rest of the body stays in the socket that gunicorn closes: the kernel
    resets the connection, and nginx, still sending that body, answers 502 instead of the app's
    413 (one 17 MB photo in three). Read and dropped, up to DRAIN_MAX (nginx's own limit refuses
    larger bodies before they arrive; served directly, a larger one is left unread)."""
    length, limit = request.content_length, current_app.config["MAX_CONTENT_LENGTH"]
    if length is None or limit is None or length <= limit:
        return
    if length <= DRAIN_MAX:
        stream, left = request.environ["wsgi.input"], length
        while left > 0 and (chunk := stream.read(min(left, 64 * 1024))):
            left -= len(chunk)
    raise RequestEntityTooLarge()


def refuse_hostile_input() -> None:
    """before_request: refuses a request whose query or form carries what no person types."""
    if _hostile(request.args.items(multi=True), _NOT_IN_QUERY):
        raise InputRefused()
    if request.endpoint in CHECKED_BY_VIEW or request.mimetype not in _FORM_TYPES:
        return
    if _hostile(request.form.items(multi=True), _NOT_IN_FORM):
        raise InputRefused()
    if any(_NOT_IN_FORM.search(name) or _NOT_IN_FORM.search(upload.filename or "")
           for name, upload in request.files.items(multi=True)):
        raise InputRefused()


class BoundedJSON(DefaultJSONProvider):
    """Flask's JSON, where a document nested past the parser's depth is malformed JSON (ValueError:
    `get_json` answers 400, or None when silent) instead of a RecursionError and a 500."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deep") from None


def register(app: Flask) -> None:
    app.json = BoundedJSON(app)
    app.before_request(refuse_too_large)
    app.before_request(refuse_hostile_input)
