"""What the development sandbox "sent": a capped Redis list of outgoing calls, newest first.

The sandbox's stand-in for WeChat's API records each call here, and the console SMS backend
records each text message here too, so `GET /dev/` shows everything that would have left the
machine. Plain Redis, no Flask: any process may append. Callers pass phone numbers masked.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import redis as redis_lib

from services import keys
from services.timeutil import utcnow

MAX_ENTRIES = 200
# Never kept, even in development: a real secret may be configured by mistake.
HIDDEN_PARAMS = frozenset({"secret", "access_token"})


@dataclass(frozen=True)
class Entry:
    at: datetime
    channel: str  # "wechat" or "sms"
    method: str
    path: str
    query: dict[str, str]
    body: object


def record(
    redis: redis_lib.Redis, channel: str, method: str, path: str,
    body: object = None, query: dict[str, str] | None = None,
) -> None:
    entry = {
        "at": utcnow().isoformat(),
        "channel": channel,
        "method": method,
        "path": path,
        "query": {k: v for k, v in (query or {}).items() if k not in HIDDEN_PARAMS},
        "body": _without_secrets(body),
    }
    with redis.pipeline() as pipe:
        pipe.lpush(keys.sandbox_log(), json.dumps(entry, ensure_ascii=False))
        pipe.ltrim(keys.sandbox_log(), 0, MAX_ENTRIES - 1)
        pipe.execute()


def entries(redis: redis_lib.Redis, limit: int = MAX_ENTRIES) -> list[Entry]:
    """The recorded calls, newest first."""
    rows = [json.loads(raw) for raw in redis.lrange(keys.sandbox_log(), 0, limit - 1)]
    return [Entry(**{**row, "at": datetime.fromisoformat(row["at"])}) for row in rows]


def clear(redis: redis_lib.Redis) -> None:
    redis.delete(keys.sandbox_log())


def _without_secrets(body: object) -> object:
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k not in HIDDEN_PARAMS}
    return body


def sms_recorder(redis_client: redis_lib.Redis) -> Callable[[dict], None]:
    """What the console SMS backend calls with each text: it records it here."""
    return lambda body: record(redis_client, "sms", "POST", "sms/send", body=body)
