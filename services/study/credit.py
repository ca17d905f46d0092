"""What a heartbeat earns: the credit rules of honest watching, pure and clock-free.

The client's word is a position; the server's is its own clock. Between two heartbeats of a
playing page, the part credited starts where the server last believed the playhead was and
runs at most as far as the wall-clock time between the two beats allows (plus RATE_SLACK, for
media clocks that run a hair fast). So:

- fast play, or a clock game that sends positions ahead of time, is clipped to wall time, and
  the server's belief stays behind: the extra never becomes watched;
- a jump forward (more than JUMP_S ahead of what wall time allows) earns nothing, and a part
  that starts beyond the furthest point watched (+ START_S) earns nothing either, so a trainee
  who skipped must go back;
- going back earns nothing for that beat; replaying parts already watched is credited time
  (the trainee is studying) but adds nothing to what is watched;
- a beat later than MAX_GAP_BEATS heartbeat intervals earns nothing: time the server never
  saw can't have held an attendance check.

The heartbeat's one-round-trip script (services.study.play_state._BEAT) applies `step` too, in
Lua, with these constants: a change here is a change there (tests/services/test_play_state_scripts.py
holds the two equal beat for beat).
"""
from __future__ import annotations

from dataclasses import dataclass

RATE_SLACK = 1.01
JUMP_S = 5.0
START_S = 3.0
MAX_GAP_BEATS = 4


@dataclass(frozen=True)
class Step:
    credited: tuple[float, float] | None  # the part of the video credited for the interval
    position: float  # where the server now believes the playhead is


def step(*, believed: float, was_playing: bool, elapsed: float, position: float, furthest: float,
         heartbeat_s: float) -> Step:
    """The credit of the interval between the last beat (server belief `believed`, `was_playing`)
    and this one (`position`), `elapsed` server seconds later; `furthest` is the furthest point
    watched so far."""
    if not was_playing or elapsed <= 0 or elapsed > MAX_GAP_BEATS * heartbeat_s or position < believed:
        return Step(None, position)
    allowed = believed + elapsed * RATE_SLACK
    if position > allowed + JUMP_S:
        return Step(None, position)
    end = min(position, allowed)
    if believed > furthest + START_S or end <= believed:
        return Step(None, end)
    return Step((believed, end), end)


def complete_slack(duration: float) -> float:
    """Seconds of a video that may stay unwatched and still count as watched to the end: the
    rounding of the last beat, not a skipped stretch."""
    return min(5.0, duration * 0.05)
