"""The one error base: every refusal or failure a service raises is a `ServiceError`.

`message` is Chinese and may be shown as is to a trainee or a staff member; `detail`, in English,
says what happened for the logs (a provider's code, an exception's name) and never reaches a page.
A view or a command catches `ServiceError` and shows `message`; specific subclasses carry more
(`status`, `transient`, `errcode`) for callers that act on them.
"""
from __future__ import annotations


class ServiceError(Exception):
    """A refusal or failure with a Chinese `message` fit to show; `detail` (English) is for logs."""

    def __init__(self, message: str, detail: str | None = None):
        super().__init__(detail or message)
        self.message = message
        self.detail = detail
