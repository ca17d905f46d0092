"""The watched parts of a video: sorted, merged [start, end] intervals in seconds.

Kept as lists of two-float lists so that they go to JSON (Redis, the database) as they are.
`add` has a Lua twin in services.study.play_state._BEAT (the heartbeat's one-round-trip script).
"""
from __future__ import annotations

# Parts closer than this are one part: the rounding of positions, not a skipped stretch.
JOIN_S = 0.05

Segments = list[list[float]]


def add(segments: Segments, start: float, end: float) -> Segments:
    """A new list with [start, end] added and every overlapping or touching part merged."""
    if end <= start:
        return [list(part) for part in segments]
    merged: Segments = []
    new = [round(start, 2), round(end, 2)]
    for part in sorted([*map(list, segments), new]):
        if merged and part[0] <= merged[-1][1] + JOIN_S:
            merged[-1][1] = max(merged[-1][1], part[1])
        else:
            merged.append(part)
    return merged


def union(first: Segments, second: Segments) -> Segments:
    result = [list(part) for part in first]
    for start, end in second:
        result = add(result, start, end)
    return result


def covered(segments: Segments, length: float) -> float:
    """Seconds of [0, length] that the parts cover."""
    return sum(max(0.0, min(end, length) - max(start, 0.0)) for start, end in segments)


def furthest(segments: Segments) -> float:
    return segments[-1][1] if segments else 0.0


def describe(segments: Segments) -> str:
    """`00:00–12:30、15:00–20:00` for people."""
    return "、".join(f"{_clock(start)}–{_clock(end)}" for start, end in segments) or "无"


def _clock(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return (f"{hours}:" if hours else "") + f"{rest // 60:02d}:{rest % 60:02d}"
