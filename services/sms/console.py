"""The development SMS backend: records each message in the sandbox log, phone masked; sends nothing."""
from __future__ import annotations

from typing import Mapping

import redis as redis_lib

from services import keys, sandbox_log
from services.pii import mask_phone


class ConsoleSms:
    name = "console"

    def __init__(self, redis: redis_lib.Redis, sign_name: str):
        self.redis = redis
        self.sign_name = sign_name

    def send(self, phone: str, template_code: str, params: Mapping[str, str]) -> str:
        message_id = f"console-{self.redis.incr(keys.sandbox_counter())}"
        sandbox_log.record(self.redis, "sms", "POST", "sms/send", body={
            "phone": mask_phone(phone), "sign_name": self.sign_name,
            "template_code": template_code, "params": dict(params), "message_id": message_id,
        })
        return message_id
