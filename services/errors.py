"""The one error base: every refusal or failure a service raises is a `ServiceError`.

`message` is Chinese and may be shown as is to a trainee or a staff member; `detail`, in English,
says what happened for the logs (a provider's code, an exception's name) and never reaches a page;
`status` is the HTTP status a page or JSON answer carries (400 unless a subclass or the raise says
otherwise). `wxapp/errors.py` renders every one of them, so views and commands need not catch them
to show them; specific subclasses carry more (`transient`, `errcode`) for callers that act on them.
"""
from __future__ import annotations


class ServiceError(Exception):
    """A refusal or failure with a Chinese `message` fit to show; `detail` (English) is for logs."""

    status = 400

    def __init__(self, message: str, detail: str | None = None, status: int | None = None):
        super().__init__(detail or message)
        self.message = message
        self.detail = detail
        if status is not None:
            self.status = status
