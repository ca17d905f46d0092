"""What the chat tells a trainee about themselves, read through a Redis cache.

Menu clicks (我的课程, 我的班级, 考试成绩, 在线学习) come in bursts — everyone clicks on the
morning a class opens — and each would cost three queries. The answer data is cached per
OpenID for `TTL_S`, and kept honest by version numbers rather than by deletes, so that a
rebuild racing with a change can never store stale data as fresh:

- `forget(redis, openid)` bumps what one OpenID sees (its binding, the lessons its trainee completed);
- `invalidate_all(redis)` bumps every overview (a roster, catalog, class or exam change).

A cached entry carries the versions it was built under and is used only while they are still
current; one MGET reads both versions and the entry. Redis down: the database answers alone.

The one way they are called is `track_changes`: it watches every session's writes to the tables
an overview is built from and, after the commit, bumps the generation (roster, catalog, classes,
exams), or the versions of the OpenIDs concerned (a WeChat user's row; a lesson completed by
their trainee), so no writer calls them and none can forget to.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from itertools import chain
from typing import TypedDict

import redis as redis_lib
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from models import WechatUser
from services import JsonObject, keys
from services.exam.state import exam_state
from services.identity import followers
from services.logfmt import kv
from services.redis_tools import text as redis_text
from services.study import learning
from services.study.learning import ClassLine, CourseLine, ExamState, MajorExam

log = logging.getLogger(__name__)

TTL_S = 600
VERSION_TTL_S = 7 * 24 * 3600
# Tables every overview may be built from; a write to one refreshes them all.
SHARED_TABLES = frozenset({"majors", "courses", "lessons", "classes", "class_members", "trainees", "enrollments",
                           "exam_attempts"})  # an exam started, graded or voided changes what MY_EXAM says
PERSONAL_TABLE = "wechat_users"
# A trainee's rows an overview reads, by the column it reads: a change refreshes their OpenIDs' overviews.
TRAINEE_COLUMNS = {"lesson_progress": "completed_at"}


@dataclass(frozen=True)
class Overview:
    trainee_id: int
    name: str
    courses: list[CourseLine]
    classes: list[ClassLine]
    exam: ExamState


def build(session: Session, openid: str) -> Overview | None:
    """From the database: None when the OpenID is bound to no trainee."""
    trainee = followers.bound_trainee(session, openid)
    if trainee is None:
        return None
    lines = learning.courses(session, trainee.id)
    return Overview(trainee.id, trainee.name, lines, learning.classes(session, trainee.id),
                    exam_state(session, trainee.id, lines))


def cache_keys(openid: str) -> list[str]:
    """The keys `for_openid` reads, in the order it takes them as `prefetched`."""
    return [keys.overview_generation(), keys.overview_version(openid), keys.overview(openid)]


def for_openid(session: Session, redis: redis_lib.Redis, openid: str,
               prefetched: Sequence[bytes | None] | None = None) -> Overview | None:
    """The OpenID's overview; `prefetched`: the values of `cache_keys(openid)` when the caller
    has read them already (the callback reads them with its replay check, one round trip)."""
    try:
        generation, version, cached = prefetched if prefetched is not None else redis.mget(cache_keys(openid))
    except redis_lib.RedisError as exc:
        log.warning(kv("overview_cache_unavailable", error=type(exc).__name__))
        return build(session, openid)
    stamp = [_text(generation), _text(version)]
    if cached is not None:
        entry = json.loads(cached)
        if entry["stamp"] == stamp:
            return _decode(entry["overview"])
    result = build(session, openid)
    try:
        redis.set(keys.overview(openid), json.dumps({"stamp": stamp, "overview": _encode(result)}), ex=TTL_S)
    except redis_lib.RedisError as exc:
        log.warning(kv("overview_cache_unavailable", error=type(exc).__name__))
    return result


def forget(redis: redis_lib.Redis, openid: str) -> None:
    pipe = redis.pipeline()
    pipe.incr(keys.overview_version(openid))
    pipe.expire(keys.overview_version(openid), VERSION_TTL_S)
    pipe.execute()


def invalidate_all(redis: redis_lib.Redis) -> None:
    redis.incr(keys.overview_generation())


def _text(value: bytes | str | None) -> str:
    return redis_text(value) or "0"


def _encode(overview: Overview | None) -> JsonObject | None:
    if overview is None:
        return None
    data = asdict(overview)
    for line in data["courses"]:
        line["hours_earned"], line["hours_required"] = str(line["hours_earned"]), str(line["hours_required"])
    for line in data["classes"]:
        line["starts_at"] = line["starts_at"].isoformat()
    return data


def _decode(data: JsonObject | None) -> Overview | None:
    if data is None:
        return None
    courses = [CourseLine(**{**c, "hours_earned": Decimal(c["hours_earned"]),
                             "hours_required": Decimal(c["hours_required"])}) for c in data["courses"]]
    classes = [ClassLine(**{**c, "starts_at": datetime.fromisoformat(c["starts_at"])}) for c in data["classes"]]
    exam = {**data["exam"], "majors": tuple(MajorExam(**{**m, "missing": tuple(m["missing"])})
                                            for m in data["exam"].get("majors", ()))}
    return Overview(data["trainee_id"], data["name"], courses, classes, ExamState(**exam))


_tracking: list[Callable[[], redis_lib.Redis | None]] = []


def track_changes(get_redis: Callable[[], redis_lib.Redis | None]) -> None:
    """Registers (once per process) the session hooks that keep cached overviews current."""
    if _tracking:
        _tracking[0] = get_redis
        return
    _tracking.append(get_redis)
    event.listen(Session, "after_flush", _collect_flushed)
    event.listen(Session, "do_orm_execute", _collect_statement)
    event.listen(Session, "after_commit", _publish)
    event.listen(Session, "after_rollback", lambda session: session.info.pop("overview_changes", None))


class _Changes(TypedDict):
    all: bool  # a shared table changed: every cached overview is stale
    openids: set[str]


def _changes(session: Session) -> _Changes:
    changes: _Changes = session.info.setdefault("overview_changes", {"all": False, "openids": set()})
    return changes


def _collect_flushed(session: Session, flush_context: UOWTransaction) -> None:
    trainee_ids = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table in SHARED_TABLES:
            _changes(session)["all"] = True
        elif table == PERSONAL_TABLE:
            _changes(session)["openids"].add(obj.openid)
        elif table in TRAINEE_COLUMNS and _column_changed(obj, TRAINEE_COLUMNS[table], obj in session.dirty):
            trainee_ids.add(obj.trainee_id)
    if trainee_ids:
        # Core, not the session: the flush is still under way.
        openids = session.connection().scalars(select(WechatUser.openid).where(WechatUser.trainee_id.in_(trainee_ids)))
        _changes(session)["openids"].update(openids)


def _column_changed(obj: object, column: str, updated: bool) -> bool:
    """An updated row counts when `column` changed; a new or deleted one when `column` holds a value."""
    if updated:
        return bool(inspect(obj).attrs[column].history.has_changes())
    return getattr(obj, column) is not None


def _collect_statement(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table in SHARED_TABLES or table == PERSONAL_TABLE or table in TRAINEE_COLUMNS:
        _changes(state.session)["all"] = True  # a bulk statement: which OpenIDs is unknown


def _publish(session: Session) -> None:
    changes = session.info.pop("overview_changes", None)
    if not changes or not (changes["all"] or changes["openids"]):
        return
    try:
        redis = _tracking[0]()
        if redis is None:
            return
        if changes["all"]:
            invalidate_all(redis)
        for openid in changes["openids"]:
            forget(redis, openid)
    except redis_lib.RedisError as exc:
        # Cached entries then live out their TTL at most.
        log.warning(kv("overview_invalidation_failed", error=type(exc).__name__))
