"""Structured logging: one line per event, `event key=value …`, personal data never in clear.

Call sites pass already-masked values (services.identity.pii.mask_phone, short_openid); the filter
below is the safety net that masks any 11-digit mobile or 18-character ID card that slips into a
record anyway: its message, its traceback (an exception's text may quote a value) and its stack.
It runs on every handler, whatever that handler's formatter, so the record leaves scrubbed; the
formatter of our own handler scrubs the finished line once more.
"""
from __future__ import annotations

import logging
import re

from flask import Flask

from services.logfmt import kv  # noqa: F401  (the one line format; the app's views import it from here)
from wxapp import config

# One pass over each line, alternatives tried in this order at every position:
# the token of an attendance QR (it lives in its URL only: access logs show the path without it),
# an 18-character ID card, an 11-digit mobile (also in full-width digits, as a Chinese keyboard types them).
_PERSONAL = re.compile(
    r"(?P<attend>/h5/attend/)[^\s\"?/]+"
    r"|(?<![\dA-Za-z])(?P<id_head>\d{4})\d{10}(?P<id_tail>\d{3}[\dXx])(?![\dA-Za-z])"
    r"|(?<!\d)(?P<phone_head>[1１][3-9３-９]\d)\d{4}(?P<phone_tail>\d{4})(?!\d)"
)


def _mask(match: re.Match) -> str:
    if match["attend"]:
        return match["attend"] + "***"
    if match["id_head"]:
        return match["id_head"] + "*" * 10 + match["id_tail"]
    return match["phone_head"] + "****" + match["phone_tail"]


# Whatever _PERSONAL matches holds the attendance path or a run of at least 11 digits (a mobile
# has 11, an ID card 17 before its last character). Looking for those first is ~8x cheaper than
# the full pattern, and almost every line holds neither: one log line per menu click cost 27 µs,
# two thirds of it in the two scrubs (filter and formatter).
_ELEVEN_DIGITS = re.compile(r"\d\d{10}")  # \d as in _PERSONAL: any Unicode digit


def scrub(text: str) -> str:
    if "/h5/attend/" not in text and _ELEVEN_DIGITS.search(text) is None:
        return text
    return _PERSONAL.sub(_mask, text)


_TRACEBACKS = logging.Formatter()


class ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse a record's exc_text: format the traceback once, here, scrubbed.
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


class ScrubFormatter(logging.Formatter):
    """Scrubs the finished line, whatever a formatter field or a traceback put into it."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def setup_logging(app: Flask) -> None:
    root = logging.getLogger()
    if not any(isinstance(f, ScrubFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(ScrubFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler.addFilter(ScrubFilter())
        root.addHandler(handler)
    settings = config.of(app)
    root.setLevel(settings.log_level or ("WARNING" if settings.testing else "INFO"))
    # alembic announces each of its plugins at INFO on every start: only its migrations matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    for each in root.handlers:
        if not any(isinstance(f, ScrubFilter) for f in each.filters):
            each.addFilter(ScrubFilter())
    # Request lines are logged by the servers' own loggers, whose handlers aren't root's.
    for name in ("gunicorn.access", "gunicorn.error", "werkzeug"):
        server_log = logging.getLogger(name)
        if not any(isinstance(f, ScrubFilter) for f in server_log.filters):
            server_log.addFilter(ScrubFilter())
