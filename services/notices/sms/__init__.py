"""Text messages (短信): one interface, three backends chosen by SMS_BACKEND.

- `console` records each message in the development sandbox log (shown at `/dev/`) and sends
  nothing: the default, so a development machine never texts anyone; in production it fails
  each message for good (no provider configured) rather than pretend it was sent;
- `aliyun` (阿里云短信服务) and `tencent` (腾讯云短信) send through the providers' official SDKs,
  which are optional requirements (requirements-sms.txt) imported only when chosen.

A backend's `send` returns the provider's message id or raises `SmsError`, whose `transient`
tells the dispatcher whether a later retry may succeed, and `may_have_left` that the request went
out but no answer came back in time (the provider may have accepted it: never retried, the row is
`unknown`). Each text carries the outbox row's reference (`ref`: Aliyun's OutId, Tencent's
SessionContext), so that `find` (where the provider can look a send up) tells later whether a text
of unknown fate was accepted. Phone numbers never reach a log in clear.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import redis as redis_lib

from services import JsonObject
from services.errors import ServiceError
from services.notices.settings import SmsSettings


class SmsError(ServiceError):
    """The provider refused or could not be reached; `code` is the provider's own error code.

    `reason` is what the provider said (its own words, in English or Chinese), kept with the
    outbox row for staff; `message` is the sentence for a page."""

    def __init__(self, code: str, reason: str, transient: bool, may_have_left: bool = False):
        super().__init__("短信没有发出，请稍后再试。", f"SMS error {code}: {reason}")
        self.code = code
        self.reason = reason
        self.transient = transient
        self.may_have_left = may_have_left


# Transport errors whose request never reached the provider: the connection was not even made.
_NEVER_CONNECTED = ("NewConnectionError", "Failed to establish a new connection", "Connection refused",
                    "connect timeout", "ConnectTimeout", "Name or service not known",
                    "Temporary failure in name resolution", "nodename nor servname")


def may_have_left(transport_error: str) -> bool:
    """Whether a transport error (no answer from the provider) came after the request was sent:
    a read timeout or a connection dropped mid-answer may follow an accepted text."""
    return not any(mark in transport_error for mark in _NEVER_CONNECTED)


@dataclass(frozen=True)
class SentText:
    """What the provider says of a text it accepted."""

    message_id: str
    failed: bool  # the provider reports it could not reach the phone


@runtime_checkable
class SmsLookup(Protocol):
    def find(self, phone: str, ref: str, since: datetime) -> SentText | None:
        """The text to `phone` carrying `ref`, sent at or after `since`; None when the provider
        has none; SmsError when it could not be asked."""


# Where the console backend puts what it would have sent (the app's development sandbox log).
SmsRecorder = Callable[[JsonObject], None]


class SmsBackend(Protocol):
    name: str

    def send(self, phone: str, template_code: str, params: Mapping[str, str], ref: str | None = None) -> str:
        """Sends one templated text to an 11-digit mainland mobile; returns the message id."""


def build_backend(settings: SmsSettings, redis: redis_lib.Redis, record: SmsRecorder | None = None) -> SmsBackend:
    """The backend named by `SMS_BACKEND`; the provider SDK is imported here, not before."""
    name = settings.backend
    if name == "console":
        from services.notices.sms.console import ConsoleSms, UnconfiguredSms

        if settings.production:
            return UnconfiguredSms()
        return ConsoleSms(redis, settings.sign_name, record)
    if name == "aliyun":
        from services.notices.sms.aliyun import AliyunSms

        return AliyunSms.from_settings(settings)
    if name == "tencent":
        from services.notices.sms.tencent import TencentSms

        return TencentSms.from_settings(settings)
    raise ValueError(f"unknown SMS backend {name!r}")


def split_endpoint(endpoint: str | None, default_host: str) -> tuple[str, str]:
    """`http://127.0.0.1:8080` → ("127.0.0.1:8080", "http"); the SDKs take host and scheme apart."""
    if not endpoint:
        return default_host, "https"
    scheme, sep, host = endpoint.partition("://")
    return (host.rstrip("/"), scheme) if sep else (endpoint.rstrip("/"), "https")
