"""A trainee's hot study state in Redis: one hash per trainee, read in one round trip and
written back in one, compare-and-set on a version so that concurrent writers never lose
each other's changes. A common heartbeat takes a single round trip: one script counts it,
decides it and writes it (`beat`, _BEAT); the others are read and written back so.

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


# A heartbeat in one round trip: counts the sender's beat (as _READ_COUNTING), and when the beat is
# the common one it also decides and writes it, with the rules of services.study.credit and
# segments over the same numbers: the page is the trainee's own, no check is pending, the lesson's
# hot state is here, and no check comes due with it. Anything else (a check pending, due or
# settling, another page, a lesson to load) is declined: the script writes nothing and answers
# what it read, and the player goes on as it always did (decides in Python, writes with _WRITE).
# Numbers are rounded as Python's round() rounds them: printf's %.Nf and round() both round the
# float's exact value to nearest.
#
# KEYS[1]: the play hash, KEYS[2]: the counter. ARGV: [1] the counter's window (s), [2] the beats
# allowed in it, [3] now, [4] tab, [5] lesson id, [6] OpenID, [7] position, [8] state, [9] the
# heartbeat interval, [10] credit.RATE_SLACK, [11] credit.JUMP_S, [12] credit.START_S,
# [13] credit.MAX_GAP_BEATS, [14] segments.JOIN_S, [15] the hash's TTL.
# Answers {'limit', count}, {'read', count, v, s, chk, ok, L} (declined) or
# {'done', count, max_position, credited_seconds, lesson_completed, has_exercise}.
_BEAT = """
local count = redis.call('INCR', KEYS[2])
if count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
if count > tonumber(ARGV[2]) then return {'limit', count} end
local lesson_id = tonumber(ARGV[5])
local values = redis.call('HMGET', KEYS[1], 'v', 's', 'chk', 'ok', 'L:' .. ARGV[5])
local function declined()
  return {'read', count, values[1], values[2], values[3], values[4], values[5]}
end
if not values[2] or not values[5] or (values[3] and values[3] ~= '') then return declined() end
local s = cjson.decode(values[2])
if s[1] == '' or s[1] ~= ARGV[4] or s[2] ~= lesson_id or s[3] ~= ARGV[6] then return declined() end
local L = cjson.decode(values[5])
local now, state, heartbeat_s = tonumber(ARGV[3]), ARGV[8], tonumber(ARGV[9])
local slack, jump, start_s, max_gap, join = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]),
  tonumber(ARGV[13]), tonumber(ARGV[14])
local function round(x, places) return tonumber(string.format('%.' .. places .. 'f', x)) end
local function last_end(parts) if #parts > 0 then return parts[#parts][2] end return 0 end
local duration, confirmed, provisional = L[1], L[2], L[4]
local provisional_s = L[5]
local furthest = math.max(last_end(confirmed), last_end(provisional))
local believed, beat_at, beat_state = s[5], s[4], s[6]
local gap = s[7]
if gap == cjson.null then gap = nil end
-- Player._credit and credit.step
local position = math.min(math.max(tonumber(ARGV[7]), 0), duration)
if beat_state == 'opened' and position < believed then position = believed end
local elapsed = now - beat_at
local first, last = nil, nil
local moved = position
if beat_state == 'playing' and elapsed > 0 and elapsed <= max_gap * heartbeat_s and position >= believed then
  local allowed = believed + elapsed * slack
  if position <= allowed + jump then
    local e = math.min(position, allowed)
    moved = e
    if not (believed > furthest + start_s or e <= believed) then first, last = believed, e end
  end
end
local lessons = s[9]
if first then
  -- segments.add
  local parts = {}
  for _, part in ipairs(provisional) do parts[#parts + 1] = {part[1], part[2]} end
  parts[#parts + 1] = {round(first, 2), round(last, 2)}
  table.sort(parts, function(a, b) if a[1] ~= b[1] then return a[1] < b[1] end return a[2] < b[2] end)
  local merged = {}
  for _, part in ipairs(parts) do
    if #merged > 0 and part[1] <= merged[#merged][2] + join then
      merged[#merged][2] = math.max(merged[#merged][2], part[2])
    else
      merged[#merged + 1] = part
    end
  end
  provisional = merged
  provisional_s = provisional_s + (last - first)
  gap = (gap or 0) - (last - first)
  local listed = false
  for _, id in ipairs(lessons) do if id == lesson_id then listed = true end end
  if not listed then lessons[#lessons + 1] = lesson_id end
end
-- Player._attend: a check due (or closing the lesson) is the player's to issue
local closing = state == 'ended' and provisional_s > 0
if closing or (state == 'playing' and not ((gap or 0) > 0)) then return declined() end
-- The write, as PlayState.fields and LessonState.to_json write them
local function num(x)
  local text = string.format('%.15g', x)
  if tonumber(text) ~= x then text = string.format('%.17g', x) end
  if not string.find(text, '[.eEn]') then text = text .. '.0' end
  return text
end
local function fixed(x, places)
  local text = string.format('%.' .. places .. 'f', x)
  return num(tonumber(text))
end
local function parts_json(parts)
  local out = {}
  for i, part in ipairs(parts) do out[i] = '[' .. num(part[1]) .. ',' .. num(part[2]) .. ']' end
  return '[' .. table.concat(out, ',') .. ']'
end
local ids = {}
for i, id in ipairs(lessons) do ids[i] = string.format('%d', id) end
local closed = s[10]
if closed == nil or closed == cjson.null then closed = '' end
local packed = '[' .. cjson.encode(s[1]) .. ',' .. string.format('%d', lesson_id) .. ',' .. cjson.encode(s[3]) .. ','
  .. fixed(now, 3) .. ',' .. fixed(moved, 3) .. ',' .. cjson.encode(state) .. ','
  .. (gap and fixed(gap, 3) or 'null') .. ',' .. fixed(s[8], 3) .. ',[' .. table.concat(ids, ',') .. '],'
  .. cjson.encode(closed) .. ']'
local lesson = '[' .. num(duration) .. ',' .. parts_json(confirmed) .. ',' .. fixed(L[3], 2) .. ','
  .. parts_json(provisional) .. ',' .. fixed(provisional_s, 2) .. ',' .. fixed(moved, 2) .. ','
  .. string.format('%d,%d,%d', L[7], L[8], L[9]) .. ']'
redis.call('HSET', KEYS[1], 'v', (tonumber(values[1]) or 0) + 1, 's', packed, 'L:' .. ARGV[5], lesson)
redis.call('EXPIRE', KEYS[1], ARGV[15])
local completed = L[7] ~= 0 and (L[9] ~= 0 or L[8] == 0)
furthest = math.max(last_end(confirmed), last_end(provisional))
return {'done', count, string.format('%.2f', furthest), string.format('%.2f', L[3]), completed and 1 or 0, L[8]}
"""


@dataclass(frozen=True)
class BeatOutcome:
    """What `beat` did: counted the beat (`count`), and either decided and wrote it (`done`: the
    lesson's figures) or read the state for the player to decide (`state`)."""

    count: int
    state: PlayState | None = None
    done: tuple[float, float, bool, bool] | None = None  # max_position, credited_seconds, completed, has_exercise

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


def beat(redis: redis_lib.Redis, trainee_id: int, lesson_id: int, tab: str, openid: str, position: float,
         state: str, now: float, counter: str, window_s: int, allowed: int, heartbeat_s: float) -> BeatOutcome:
    """One heartbeat in one round trip when it is the common one (see _BEAT): counts it in `counter`
    (a window of `window_s`); past `allowed` beats there, or when the beat needs the player's
    judgement, nothing is written and the state read is returned."""
    answer = _BEAT_SCRIPT(redis, [keys.play(trainee_id), counter], [
        window_s, allowed, repr(now), tab, lesson_id, openid, repr(float(position)), state, repr(heartbeat_s),
        repr(credit.RATE_SLACK), repr(credit.JUMP_S), repr(credit.START_S), credit.MAX_GAP_BEATS,
        repr(segments.JOIN_S), TTL_S])
    kind, count = redis_text(answer[0]), int(answer[1])
    if kind == "done":
        return BeatOutcome(count, done=(float(answer[2]), float(answer[3]), bool(answer[4]), bool(answer[5])))
    if kind == "read":
        return BeatOutcome(count, state=_state(trainee_id, [lesson_id], list(answer[2:])))
    return BeatOutcome(count)


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
_BEAT_SCRIPT = HotScript(_BEAT)
_WRITE_SCRIPT = HotScript(_WRITE)
