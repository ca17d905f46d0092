"""A trainee's hot study state in Redis: one hash per trainee, read in one round trip and
written back in one, compare-and-set on a version so that concurrent writers never lose
each other's changes.

The hash holds the active player page (tab, lesson, OpenID), the last heartbeat (server time,
the position the server believes, the state), the attendance clock (playing seconds left until
the next check, the pending check and its expiry, the check a scan verified) and one JSON
field per lesson studied (`L:<id>`: duration, confirmed and provisional watched parts, resume
position, completion flags). Losing it loses only what no check has confirmed yet: the
confirmed parts are in the database from the moment a check passes.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import redis as redis_lib
from redis.exceptions import NoScriptError

from services import keys
from services.redis_tools import text as redis_text
from services.study import credit, segments
from services.study.segments import Segments

TTL_S = 14 * 24 * 3600

# The hash's fields: `v` (version), `s` (the page and the last heartbeat, packed as one JSON list),
# `chk` (the pending check), `ok` (a check a scan verified) and `L:<lesson id>` per lesson. `chk` and
# `ok` stand alone because the confirm script of services.study.attendance reads and writes them.
#
# KEYS[1]: the play hash; KEYS[2], KEYS[3]: a new check's token key and check hash. ARGV[1]: the
# version read ('' for none), ARGV[2]: the hash's TTL, ARGV[3]: the new check's id ('' for none),
# ARGV[4]: its keys' TTL, ARGV[5]: n, the number of ARGVs after it that are the check hash's fields
# and values; the rest: the play hash's fields and values.
_WRITE = """
if (redis.call('HGET', KEYS[1], 'v') or '') ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[5])
redis.call('HSET', KEYS[1], 'v', (tonumber(ARGV[1]) or 0) + 1, unpack(ARGV, 6 + n))
redis.call('EXPIRE', KEYS[1], ARGV[2])
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
  redis.call('HSET', KEYS[3], unpack(ARGV, 6, 5 + n))
  redis.call('EXPIRE', KEYS[3], ARGV[4])
end
return 1
"""

# A heartbeat's read also counts the sender's beats of this minute (one round trip for both).
# KEYS[1]: the play hash, KEYS[2]: the counter; ARGV[1]: the counter's window (s); the rest: fields.
_READ_COUNTING = """
local count = redis.call('INCR', KEYS[2])
if count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
local values = redis.call('HMGET', KEYS[1], unpack(ARGV, 2))
table.insert(values, 1, count)
return values
"""


class HotScript:
    """A Lua script of the heartbeat's path, run by EVALSHA on a connection the calling thread keeps.

    Through the client, each call checked a connection out of the pool and back in (with redis-py
    8's observability hooks) and `register_script` hashed the script again: together about half of
    the call's cost in a worker's CPU, and the heartbeat makes two (bench/heartbeat.py). Here each
    thread keeps one connection made with the pool's own settings (timeouts, health checks, TLS,
    socket path), checks it before each call as the pool checks a connection it lends (one the
    server closed is opened again), and retries a failed call as the client does (the connection's
    `retry`). A client whose connections can't be kept so (one bound to a single connection, a
    cluster, client-side caching, RESP3 and its pushed notifications) runs it through
    `register_script` as before."""

    _held = threading.local()  # (pool, pid, connection) of this thread

    def __init__(self, source: str):
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def __call__(self, redis: redis_lib.Redis, keys: list[str], args: list[Any]) -> Any:
        conn = self._connection(redis)
        if conn is None:
            return redis.register_script(self.source)(keys=keys, args=args)
        if conn.is_connected:
            try:  # as the pool checks a connection it lends: one the server closed meanwhile has data
                if conn.can_read():
                    conn.disconnect()
            except (redis_lib.ConnectionError, redis_lib.TimeoutError, OSError):
                conn.disconnect()  # the next send connects again
        command = (len(keys), *keys, *args)

        def call() -> Any:
            try:
                conn.send_command("EVALSHA", self.sha, *command)
                return conn.read_response()
            except NoScriptError:  # a restarted or flushed server: EVAL loads it again
                conn.send_command("EVAL", self.source, *command)
                return conn.read_response()

        return conn.retry.call_with_retry(call, lambda error: conn.disconnect())

    @classmethod
    def _connection(cls, redis: redis_lib.Redis) -> Any:  # a redis.connection.AbstractConnection or None
        pool = redis.connection_pool
        held = getattr(cls._held, "value", None)
        if held is not None and held[0] is pool and held[1] == os.getpid():
            return held[2]
        if (type(redis) is not redis_lib.Redis or redis.connection is not None
                or type(pool) not in (redis_lib.ConnectionPool, redis_lib.BlockingConnectionPool)
                or getattr(pool, "cache", None) is not None
                or pool.connection_kwargs.get("protocol") not in (None, 2, "2")):
            return None
        if held is not None and held[1] == os.getpid():
            held[2].disconnect()  # another client's (a test's app): one connection per thread at most
        conn = pool.connection_class(**pool.connection_kwargs)
        cls._held.value = (pool, os.getpid(), conn)
        return conn


@dataclass
class LessonState:
    duration: float
    confirmed: Segments = field(default_factory=list)
    confirmed_s: float = 0.0
    provisional: Segments = field(default_factory=list)  # credited since the last passed check
    provisional_s: float = 0.0
    position: float = 0.0
    video_done: bool = False
    has_exercise: bool = False
    exercise_passed: bool = False

    @property
    def furthest(self) -> float:
        return max(segments.furthest(self.confirmed), segments.furthest(self.provisional))

    @property
    def completed(self) -> bool:
        return self.video_done and (self.exercise_passed or not self.has_exercise)

    def watched_to_end(self, parts: Segments) -> bool:
        return self.duration - segments.covered(parts, self.duration) <= credit.complete_slack(self.duration)

    def to_json(self) -> str:
        return json.dumps([self.duration, self.confirmed, round(self.confirmed_s, 2), self.provisional,
                           round(self.provisional_s, 2), round(self.position, 2), int(self.video_done),
                           int(self.has_exercise), int(self.exercise_passed)], separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> LessonState:
        (duration, confirmed, confirmed_s, provisional, provisional_s, position, video_done, has_exercise,
         exercise_passed) = json.loads(raw)
        return cls(duration, confirmed, confirmed_s, provisional, provisional_s, position, bool(video_done),
                   bool(has_exercise), bool(exercise_passed))


@dataclass
class PlayState:
    trainee_id: int
    version: str = ""
    tab: str = ""
    lesson_id: int | None = None
    openid: str = ""
    beat_at: float = 0.0
    believed: float = 0.0
    beat_state: str = ""
    gap: float | None = None  # playing seconds left before the next check is due
    check_id: str = ""  # the pending check
    check_expires: float = 0.0
    verified_id: str = ""  # a check a scan verified, not yet settled into progress
    provisional_lessons: list[int] = field(default_factory=list)
    closed_tab: str = ""  # the page staff closed (unbind): its heartbeats are told so
    lessons: dict[int, LessonState] = field(default_factory=dict)
    dirty: set[int] = field(default_factory=set)  # lessons to write back
    stored: tuple[str, str] = ("", "")  # (check_id, verified_id) as read

    def owns(self, tab: str, lesson_id: int, openid: str) -> bool:
        return bool(self.tab) and (self.tab, self.lesson_id, self.openid) == (tab, lesson_id, openid)

    def lesson(self, lesson_id: int) -> LessonState:
        self.dirty.add(lesson_id)
        return self.lessons[lesson_id]

    def fields(self) -> list[str]:
        """What to write back, as alternating field names and values."""
        packed = json.dumps([self.tab, self.lesson_id, self.openid, round(self.beat_at, 3), round(self.believed, 3),
                             self.beat_state, None if self.gap is None else round(self.gap, 3),
                             round(self.check_expires, 3), self.provisional_lessons, self.closed_tab],
                            separators=(",", ":"))
        out = ["s", packed]
        if (self.check_id, self.verified_id) != self.stored:
            out += ["chk", self.check_id, "ok", self.verified_id]
        for lesson_id in self.dirty:
            out += [f"L:{lesson_id}", self.lessons[lesson_id].to_json()]
        return out


def read(redis: redis_lib.Redis, trainee_id: int, lesson_ids: list[int]) -> PlayState:
    fields = ["v", "s", "chk", "ok", *(f"L:{i}" for i in lesson_ids)]
    return _state(trainee_id, lesson_ids, redis.hmget(keys.play(trainee_id), fields))


def read_counting(redis: redis_lib.Redis, trainee_id: int, lesson_ids: list[int], counter: str,
                  window_s: int) -> tuple[PlayState, int]:
    """As `read`, and counts one more event in `counter` (a window of `window_s`); returns that count."""
    fields = ["v", "s", "chk", "ok", *(f"L:{i}" for i in lesson_ids)]
    count, *values = _READ_COUNTING_SCRIPT(redis, [keys.play(trainee_id), counter], [window_s, *fields])
    return _state(trainee_id, lesson_ids, values), int(count)


def _state(trainee_id: int, lesson_ids: list[int], values: list[bytes | str | None]) -> PlayState:
    version, packed, check_id, verified_id, *lessons = values
    state = PlayState(trainee_id=trainee_id, version=redis_text(version) or "")
    if packed is not None:
        (state.tab, state.lesson_id, state.openid, state.beat_at, state.believed, state.beat_state, state.gap,
         state.check_expires, state.provisional_lessons, *closed) = json.loads(packed)
        state.closed_tab = closed[0] if closed else ""
    state.check_id = redis_text(check_id) or ""
    state.verified_id = redis_text(verified_id) or ""
    state.stored = (state.check_id, state.verified_id)
    for lesson_id, value in zip(lesson_ids, lessons, strict=True):
        if value is not None:
            state.lessons[lesson_id] = LessonState.from_json(value)
    return state


def read_more(redis: redis_lib.Redis, state: PlayState, lesson_ids: list[int]) -> list[int]:
    """Adds the hot state of more lessons to `state`; returns the ids that have none."""
    wanted = [i for i in lesson_ids if i not in state.lessons]
    if not wanted:
        return []
    values = redis.hmget(keys.play(state.trainee_id), [f"L:{i}" for i in wanted])
    for lesson_id, value in zip(wanted, values, strict=True):
        if value is not None:
            state.lessons[lesson_id] = LessonState.from_json(value)
    return [i for i in wanted if i not in state.lessons]


@dataclass(frozen=True)
class NewCheck:
    id: str
    token: str
    token_hash: str
    trainee_id: int
    lesson_id: int
    issued_at: float
    expires_at: float


def write(redis: redis_lib.Redis, state: PlayState, check: NewCheck | None = None, check_ttl: int = 0) -> bool:
    """Writes `state` back unless someone wrote since it was read; with a new check, creates its
    token key and check hash in the same step. False: re-read and try again."""
    keys_ = [keys.play(state.trainee_id)]
    check_args: list[str] = ["", "0", "0"]
    if check is not None:
        keys_ += [keys.attendance_token(check.token_hash), keys.attendance_check(check.id)]
        fields = ["trainee", str(check.trainee_id), "lesson", str(check.lesson_id), "token", check.token,
                  "exp", f"{check.expires_at:.3f}", "status", "pending"]
        check_args = [check.id, str(check_ttl), str(len(fields)), *fields]
    args = [state.version, str(TTL_S), *check_args, *state.fields()]
    return bool(_WRITE_SCRIPT(redis, keys_, args))


_READ_COUNTING_SCRIPT = HotScript(_READ_COUNTING)
_WRITE_SCRIPT = HotScript(_WRITE)
