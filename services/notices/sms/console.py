"""SMS_BACKEND=console: in development, each message goes to the app's recorder (the sandbox log,
phone masked) and nothing is sent; in production, where nobody reads that log, each message fails
for good instead, so the outbox and `notify status` say what really happened."""
from __future__ import annotations

from collections.abc import Mapping

import redis as redis_lib

from services import keys
from services.identity.pii import mask_phone
from services.notices.sms import SmsError, SmsRecorder


class ConsoleSms:
    name = "console"

    def __init__(self, redis: redis_lib.Redis, sign_name: str, record: SmsRecorder | None):
        self.redis = redis
        self.sign_name = sign_name
        self.record = record

    def send(self, phone: str, template_code: str, params: Mapping[str, str], ref: str | None = None) -> str:
        message_id = f"console-{self.redis.incr(keys.sandbox_counter())}"
        if self.record is not None:
            self.record({
                "phone": mask_phone(phone), "sign_name": self.sign_name,
                "template_code": template_code, "params": dict(params), "message_id": message_id,
            })
        return message_id


class UnconfiguredSms:
    name = "unconfigured"

    def send(self, phone: str, template_code: str, params: Mapping[str, str], ref: str | None = None) -> str:
        raise SmsError("not_configured", "未配置短信服务（SMS_BACKEND=console），短信未发出", transient=False)
