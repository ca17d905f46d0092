"""Shared set-up of the notice tests: an app wired to the fake WeChat, a class with trainees."""
from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from sqlalchemy import select

from models import OutboxMessage, db
from services.identity.pii import id_card_check_digit
from tests import factories
from wxapp.sandbox import log as sandbox_log

TEMPLATE_PATH = "cgi-bin/message/template/send"
TOKEN_PATH = "cgi-bin/stable_token"
CLASS_CODE = "SZ2701-JZ"
CLASS_NAME = "2027年第1期建筑工程班"


def notify_settings(fake_wechat, **extra) -> dict:
    """Retries at once and no rate limit, so tests run at full speed; WeChat is the fake."""
    return {
        "WECHAT_API_BASE": fake_wechat.base_url, "WECHAT_TEMPLATE_CLASS_OPEN": "tmpl-class-open",
        "OUTBOX_RATE_PER_S": 0, "OUTBOX_RETRY_BASE_S": 0, "OUTBOX_POOL_SIZE": 4, **extra,
    }


def id_card(n: int) -> str:
    born = date(1970, 1, 1) + timedelta(days=n)
    first17 = f"320505{born:%Y%m%d}{n % 1000:03d}"
    return first17 + id_card_check_digit(first17)


def phone(n: int) -> str:
    return f"139{n:08d}"


def openid(n: int) -> str:
    return f"oFake{n:06d}"


def class_with_trainees(app, bound: int = 2, unbound: int = 1, code: str = CLASS_CODE, first: int = 1, **training_class):
    """A class with `bound` trainees bound to following WeChats, then `unbound` others; their ids."""
    if first == 1:
        factories.training_class(app, code=code, name=CLASS_NAME, **training_class)
    ids = []
    for n in range(first, first + bound + unbound):
        ids.append(factories.trainee(app, name=f"学员{n}", phone=phone(n), id_card=id_card(n),
                                     openid=openid(n) if n < first + bound else None, class_code=code))
    return ids


def sms_sent(redis) -> list:
    return [entry for entry in sandbox_log.entries(redis) if entry.channel == "sms"]


def outbox_states(app) -> Counter:
    with app.app_context():
        return Counter(db.session.execute(select(OutboxMessage.channel, OutboxMessage.state)).all())


def template_recipients(fake_wechat) -> Counter:
    return Counter(call.json["touser"] for call in fake_wechat.calls(TEMPLATE_PATH))
