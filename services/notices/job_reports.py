"""WeChat's `success` reports on template messages, recorded in batches.

A push to 20,000 trainees brings 20,000 TEMPLATESENDJOBFINISH reports to /wechat within two minutes,
while the trainees who got the notice open their pages. Recorded one by one, each report was a
transaction on a web worker and on PostgreSQL. Now the callback only appends the report to a Redis
stream (`queue`, one round trip), and the leading scheduler marks the reported rows delivered, a
thousand at a time in one transaction (`record`).

A stream, read through a consumer group: an entry leaves it only once its batch is committed
(XACK, then XDEL). A scheduler that dies between the read and the commit leaves its entries pending,
and the next `record` (in this process or the next leader) reads them again first. Recording one
twice is harmless: `delivered_at` keeps the first time.

A failure report (`failed:user block`, …) is still recorded at once by the callback: it fails the
row and adds its SMS fallback. So is a success report while Redis is unreachable.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import redis as redis_lib
from sqlalchemy.orm import Session

from services import keys
from services.db import transaction
from services.logfmt import kv
from services.notices import outbox

log = logging.getLogger(__name__)

GROUP = "record"
# One consumer name for every scheduler: whoever leads next reads what a dead leader left pending.
CONSUMER = "scheduler"
BATCH = 1000


def queue(redis: redis_lib.Redis, msgid: str, at: datetime) -> bool:
    """Appends a `success` report; False when Redis is unreachable (then record it at once)."""
    try:
        redis.xadd(keys.outbox_job_reports(), {"m": msgid, "t": int(at.timestamp() * 1000)})  # ms
        return True
    except redis_lib.RedisError as exc:
        log.warning(kv("job_report_unqueued", msgid=msgid, error=type(exc).__name__))
        return False


@dataclass(frozen=True)
class Recorded:
    reports: int  # entries read and committed
    rows: int     # outbox rows they matched (a report of a message sent by someone else matches none)


def record(session: Session, redis: redis_lib.Redis, budget_s: float = 5.0) -> Recorded:
    """Marks the queued reports' rows delivered, a batch per transaction, for at most about
    `budget_s`: first the entries a run read and never acknowledged, then new ones."""
    stream = keys.outbox_job_reports()
    _ensure_group(redis, stream)
    until = time.monotonic() + budget_s
    reports = rows = 0
    start = "0"  # this consumer's pending entries first; ">" once they are done
    while True:
        entries = _read(redis, stream, start)
        if not entries:
            if start == ">":
                break
            start = ">"
            continue
        params = [p for p in (_params(fields) for _, fields in entries) if p is not None]
        with transaction(session):
            rows += _marked(session, params)
        ids = [entry_id for entry_id, _ in entries]
        with redis.pipeline() as pipe:  # MULTI: never acknowledged but deleted, nor the reverse
            pipe.xack(stream, GROUP, *ids)
            pipe.xdel(stream, *ids)
            pipe.execute()
        reports += len(entries)
        if time.monotonic() >= until:
            break
    return Recorded(reports, rows)


Entry = tuple[bytes, dict[bytes, bytes] | None]  # (id, fields); None once deleted


def _read(redis: redis_lib.Redis, stream: str, start: str) -> list[Entry]:
    """Up to BATCH entries for CONSUMER: its pending ones from `start` "0", new ones with ">"."""
    answer = redis.xreadgroup(GROUP, CONSUMER, {stream: start}, count=BATCH)
    # redis-py's RESP2 shape: [[stream, [(id, fields), ...]]]; its stubs don't know it.
    return cast(list[Entry], answer[0][1]) if answer else []  # type: ignore[index]


def _marked(session: Session, params: list[dict[str, object]]) -> int:
    if not params:
        return 0
    # One executemany of the statement a single report runs (psycopg pipelines it).
    result = session.connection().execute(outbox.DELIVERED, params)
    return max(result.rowcount, 0)


def _params(fields: dict[bytes, bytes] | None) -> dict[str, object] | None:
    """An entry's statement parameters; None for one that can't be read (logged, then dropped)."""
    try:
        if fields is None:
            raise KeyError("deleted")
        msgid = fields[b"m"].decode()
        ms = int(fields[b"t"])
        at = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000)
    except (KeyError, ValueError, UnicodeDecodeError):
        log.warning(kv("job_report_unreadable", fields=sorted(k.decode(errors="replace") for k in fields or {})))
        return None
    return {"msgid": msgid, "at": at}


def _ensure_group(redis: redis_lib.Redis, stream: str) -> None:
    try:
        # From the stream's first entry: reports queued before any group existed are read too.
        redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except redis_lib.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
