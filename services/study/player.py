"""Watching a lesson: the player page, its heartbeats, and the random attendance checks that
confirm what was watched.

- One page at a time per trainee: opening a player page makes it the trainee's only page; a
  heartbeat from any older page is `Superseded`.
- Each heartbeat is judged by `services.study.credit` on the server's clock. What it credits is
  provisional until the next attendance check passes; a check that expires drops everything
  credited since the last one passed, and playing earns nothing while a check is pending.
- Checks come after a random stretch of credited playing time (ATTENDANCE_INTERVAL_MIN_S…MAX_S,
  never told to the client), and once more when a lesson ends with unconfirmed watching.
- A lesson's hours are earned when its confirmed parts cover the video to the end and its
  exercise, if it has one, was answered all right.

The hot path is Redis only (`services.study.play_state`: one round trip for a common beat, which
the script decides and writes; otherwise one read, one compare-and-set write). The
database is written at the meaningful points: a check issued (committed before Redis shows it to
the page, so every check a trainee sees exists in the database; without the database no check is
issued and the heartbeat fails), a check settled (the confirmed
parts, the credited seconds and the resume point of each lesson it confirms) and a lesson
completed. A pause writes nothing: until a check confirms it, what the resume point could add is
provisional watching, which a lost Redis would lose anyway (a page resumes at most at the
furthest confirmed point).
"""
from __future__ import annotations

import logging
import random
import re
import secrets
from dataclasses import dataclass, field, replace

import redis as redis_lib
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services import ServiceError, keys
from services.db import transaction
from services.logfmt import kv
from services.redis_tools import LOST, Lost, compare_and_set
from services.study import attendance, credit, exercises, play_state, progress_store, segments
from services.study.play_state import LessonState, NewCheck, PlayState

log = logging.getLogger(__name__)

STATES = ("playing", "paused", "ended")
_TAB = re.compile(r"^(\d{1,12})\.[A-Za-z0-9_-]{22}$")


class Superseded(ServiceError):
    reason = "superseded"

    def __init__(self, message: str = "检测到多开播放页面，本页面已停止播放。请在最后打开的页面继续学习。"):
        super().__init__(message)


class TooManyBeats(ServiceError):
    """More heartbeats in a minute than any player page sends (a page beats every 15 s, and on
    each play, pause and seek): a script, not a trainee."""

    status = 429

    def __init__(self) -> None:
        super().__init__("操作过于频繁，请稍后再试", "heartbeat rate limit")


class PageClosed(Superseded):
    """The trainee has no open page any more: staff released their WeChat (unbind)."""

    reason = "closed"

    def __init__(self) -> None:
        super().__init__("本微信已不再绑定该学员。请从公众号菜单重新认证登录后继续学习。")


class LessonRetired(ServiceError):
    """Staff retired the lesson: no new page of it opens. A page opened before goes on being credited
    (its heartbeats read Redis only), so a trainee mid-lesson loses nothing of what they watch."""

    def __init__(self) -> None:
        super().__init__("该课程已停用，请学习其他课程。")


@dataclass(frozen=True)
class Settings:
    interval_min_s: float
    interval_max_s: float
    check_ttl_s: int
    heartbeat_s: float
    # Counted per WeChat user (a whole company may share one NAT address); generous.
    beats_per_minute: int = 120


@dataclass(frozen=True)
class Beat:
    lesson_id: int
    position: float
    tab: str
    state: str


@dataclass(frozen=True)
class PendingCheck:
    id: str
    expires_at: float


@dataclass(frozen=True)
class Progress:
    """What a page is told after opening or a heartbeat."""

    max_position: float
    credited_seconds: float
    lesson_completed: bool
    check: PendingCheck | None
    position: float = 0.0
    tab: str = ""
    has_exercise: bool = False
    took_over: bool = False  # the page opened replaces another page that was still open


@dataclass
class _Effects:
    """What to do after the hot state is written: the database rows it settles."""

    new_check: NewCheck | None = None
    expired_check: str = ""
    flush: set[int] = field(default_factory=set)  # lessons whose confirmed state changed


def close_page(redis: redis_lib.Redis, trainee_id: int) -> bool:
    """Stops the trainee's open player page, if any: its next heartbeat is refused and it earns
    nothing more. After an unbind, a page left open in the released WeChat must not go on
    studying for the trainee. True when a page was open."""
    def attempt() -> bool | Lost:
        state = play_state.read(redis, trainee_id, [])
        if not state.tab:
            return False
        state.closed_tab, state.tab, state.openid = state.tab, "", ""
        return True if play_state.write(redis, state) else LOST

    return compare_and_set(attempt)


class Player:
    def __init__(self, redis: redis_lib.Redis, session: Session, settings: Settings, rng: random.Random | None = None):
        self.redis, self.session, self.settings = redis, session, settings
        self.rng = rng or random.SystemRandom()

    def open_page(self, trainee_id: int, openid: str, lesson_id: int, now: float) -> Progress:
        """Makes a new page of `lesson_id` the trainee's only one; returns where it resumes.
        A retired lesson opens no page (`LessonRetired`)."""
        if progress_store.is_retired(self.session, lesson_id):
            raise LessonRetired()
        tab = f"{trainee_id}.{secrets.token_urlsafe(16)}"

        def attempt() -> Progress | Lost:
            state = play_state.read(self.redis, trainee_id, [lesson_id])
            effects = _Effects()
            self._settle(state, now, effects)
            lesson = self._lesson(state, lesson_id)
            if state.gap is None:
                state.gap = self._next_gap()
            # Another page that beat lately is taken over: this page says it stopped that one.
            took_over = bool(state.tab) and now - state.beat_at <= credit.MAX_GAP_BEATS * self.settings.heartbeat_s
            resume = lesson.position if lesson.completed else min(lesson.position, lesson.furthest)
            if resume >= lesson.duration - 1:
                resume = 0.0  # watched to the end last time: start again
            state.tab, state.lesson_id, state.openid, state.closed_tab = tab, lesson_id, openid, ""
            state.beat_at, state.believed, state.beat_state = now, resume, "opened"
            if not play_state.write(self.redis, state):
                return LOST
            self._apply(state, effects, now)
            return replace(self._progress(state, lesson, position=resume, tab=tab), took_over=took_over)

        return compare_and_set(attempt)

    def heartbeat(self, openid: str, beat: Beat, now: float) -> Progress:
        match = _TAB.match(beat.tab)
        if match is None:
            raise Superseded()
        trainee_id = int(match.group(1))

        counted = False

        def attempt() -> Progress | Lost:
            nonlocal counted
            if counted:  # a retry after a lost race: the beat was counted once already
                state = play_state.read(self.redis, trainee_id, [beat.lesson_id])
            else:
                # Counted, and the common beat decided and written, in one round trip (the rules
                # below, in play_state._BEAT); any other comes back as read, and is decided here.
                outcome = play_state.beat(self.redis, trainee_id, beat.lesson_id, beat.tab, openid, beat.position,
                                          beat.state, now, keys.heartbeat_count(openid, int(now // 60)), 61,
                                          self.settings.beats_per_minute, self.settings.heartbeat_s)
                counted = True
                if outcome.count > self.settings.beats_per_minute:
                    raise TooManyBeats()
                if outcome.done is not None:
                    max_position, credited, completed, has_exercise = outcome.done
                    return Progress(max_position, credited, completed, None, has_exercise=has_exercise)
                assert outcome.state is not None
                state = outcome.state
            if not state.owns(beat.tab, beat.lesson_id, openid):
                raise PageClosed() if state.closed_tab and beat.tab == state.closed_tab else Superseded()
            effects = _Effects()
            was_pending = bool(state.check_id)
            self._settle(state, now, effects)
            lesson = self._lesson(state, beat.lesson_id)
            self._credit(state, lesson, beat, now, counts=not was_pending)
            self._attend(state, lesson, beat, now, effects)
            self._issue(effects)
            if not play_state.write(self.redis, state, effects.new_check,
                                    self.settings.check_ttl_s + attendance.KEEP_S):
                self._withdraw(effects)
                return LOST
            self._apply(state, effects, now)
            return self._progress(state, lesson)

        return compare_and_set(attempt)

    def confirm_check(self, token: str, check: attendance.Check, openid: str, now: float) -> str:
        """The trainee's own scan confirms the check (attendance.confirm: `verified`, `used` or `expired`);
        a confirm that won is settled into their progress at once."""
        outcome = attendance.confirm(self.redis, self.session, token, check, openid, now)
        if outcome == "verified":
            self._settle_check(check.trainee_id, now)
        return outcome

    def _settle_check(self, trainee_id: int, now: float) -> None:
        """Settles a check a scan just verified (or that expired) into the trainee's progress."""
        def attempt() -> None | Lost:
            state = play_state.read(self.redis, trainee_id, [])
            effects = _Effects()
            if not self._settle(state, now, effects):
                return None
            if not play_state.write(self.redis, state):
                return LOST
            self._apply(state, effects, now)
            return None

        compare_and_set(attempt)

    def submit_exercise(self, trainee_id: int, lesson_id: int, answers: dict[int, str],
                        now: float) -> exercises.Grade:
        """Grades one 交卷 (exercises.grade); a pass reaches the lesson's hot state too (a lesson it
        completes refreshes the trainee's cached overview through services.overview's hooks)."""
        result = exercises.grade(self.session, trainee_id, lesson_id, answers, now)
        if result.passed:
            self._exercise_passed(trainee_id, lesson_id)
        return result

    def _exercise_passed(self, trainee_id: int, lesson_id: int) -> None:
        """Marks the hot state of the lesson (if any) as having its exercise passed."""
        def attempt() -> None | Lost:
            state = play_state.read(self.redis, trainee_id, [lesson_id])
            if lesson_id not in state.lessons:
                return None
            state.lesson(lesson_id).exercise_passed = True
            return None if play_state.write(self.redis, state) else LOST

        compare_and_set(attempt)

    # -- the rules --------------------------------------------------------------------------

    def _settle(self, state: PlayState, now: float, effects: _Effects) -> bool:
        """A pending check that was verified promotes the provisional credit; one that expired
        drops it and makes the next check due at once. True when something was settled."""
        if not state.check_id:
            return False
        verified = state.verified_id == state.check_id
        if not verified and now <= state.check_expires:
            return False
        missing = play_state.read_more(self.redis, state, state.provisional_lessons)
        for lesson_id in state.provisional_lessons:
            if lesson_id in missing:
                continue
            lesson = state.lesson(lesson_id)
            if verified:
                lesson.confirmed = segments.union(lesson.confirmed, lesson.provisional)
                lesson.confirmed_s += lesson.provisional_s
                lesson.video_done = lesson.video_done or lesson.watched_to_end(lesson.confirmed)
                effects.flush.add(lesson_id)
            lesson.provisional, lesson.provisional_s = [], 0.0
        if not verified:
            effects.expired_check = state.check_id
        state.provisional_lessons = []
        state.check_id, state.verified_id, state.check_expires = "", "", 0.0
        state.gap = self._next_gap() if verified else 0.0
        return True

    def _credit(self, state: PlayState, lesson: LessonState, beat: Beat, now: float, counts: bool) -> None:
        position = min(max(beat.position, 0.0), lesson.duration)
        if state.beat_state == "opened" and position < state.believed:
            # The first word of a page that just opened, from before its video reached the resume
            # point (a pause or an unload beacon while the metadata loads: position 0): it is not
            # where the trainee is, and taken for it, the next page would open at 0:00. A real seek
            # back is reported after it (the player sends the position before and after a seek).
            position = state.believed
        result = credit.step(
            believed=state.believed, was_playing=counts and state.beat_state == "playing",
            elapsed=now - state.beat_at, position=position, furthest=lesson.furthest,
            heartbeat_s=self.settings.heartbeat_s,
        )
        if result.credited is not None:
            start, end = result.credited
            lesson.provisional = segments.add(lesson.provisional, start, end)
            lesson.provisional_s += end - start
            state.gap = (state.gap or 0.0) - (end - start)
            if beat.lesson_id not in state.provisional_lessons:
                state.provisional_lessons.append(beat.lesson_id)
        state.beat_at, state.believed, state.beat_state = now, result.position, beat.state
        lesson.position = result.position

    def _attend(self, state: PlayState, lesson: LessonState, beat: Beat, now: float, effects: _Effects) -> None:
        if state.check_id:
            return
        closing = beat.state == "ended" and lesson.provisional_s > 0
        if not closing and (beat.state != "playing" or (state.gap or 0.0) > 0):
            return
        effects.new_check = attendance.new_check(state.trainee_id, beat.lesson_id, now, self.settings.check_ttl_s)
        state.check_id, state.check_expires = effects.new_check.id, effects.new_check.expires_at

    # -- helpers ----------------------------------------------------------------------------

    def _next_gap(self) -> float:
        return self.rng.uniform(self.settings.interval_min_s, self.settings.interval_max_s)

    def _lesson(self, state: PlayState, lesson_id: int) -> LessonState:
        if lesson_id not in state.lessons:
            loaded = progress_store.load_lesson(self.session, state.trainee_id, lesson_id)
            self.session.rollback()  # end the read's transaction: the hot path holds no connection
            if loaded is None:
                raise ServiceError("没有这个视频课时")
            state.lessons[lesson_id] = loaded
        return state.lesson(lesson_id)

    def _issue(self, effects: _Effects) -> None:
        """Records a new check in the database before anything can show it."""
        if effects.new_check is None:
            return
        with transaction(self.session):
            attendance.record_issued(self.session, effects.new_check)

    def _withdraw(self, effects: _Effects) -> None:
        """A check recorded for a write that lost its race was never shown: it goes again."""
        if effects.new_check is not None:
            attendance.withdraw(self.session, effects.new_check.id)
            self.session.commit()

    def _apply(self, state: PlayState, effects: _Effects, now: float) -> None:
        if effects.new_check is not None:
            log.info(kv("attendance_check_issued", trainee=state.trainee_id, lesson=effects.new_check.lesson_id,
                        check=effects.new_check.id))
        if not effects.expired_check and not effects.flush:
            return
        for attempt in range(2):
            try:
                self._write_rows(state, effects, now)
                self.session.commit()
                break
            except IntegrityError:  # another process inserted the same progress row first
                self.session.rollback()
                if attempt:
                    raise
        if effects.expired_check:
            log.info(kv("attendance_check_expired", trainee=state.trainee_id, check=effects.expired_check))

    def _write_rows(self, state: PlayState, effects: _Effects, now: float) -> bool:
        if effects.expired_check:
            attendance.record_expired(self.redis, self.session, effects.expired_check)
        completed = False
        for lesson_id in sorted(effects.flush):
            completed |= progress_store.flush(self.session, state.trainee_id, lesson_id, state.lessons[lesson_id], now)
        return completed

    def _progress(self, state: PlayState, lesson: LessonState, position: float = 0.0, tab: str = "") -> Progress:
        check = PendingCheck(state.check_id, state.check_expires) if state.check_id else None
        return Progress(round(lesson.furthest, 2), round(lesson.confirmed_s, 2), lesson.completed, check,
                        round(position, 2), tab, lesson.has_exercise)

