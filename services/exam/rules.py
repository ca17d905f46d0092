"""The paper rules (`exam_rules.json`, CONTRACT §7): how many questions of each type from the
公共 pool and from the major's pool, points per type, the pass mark and the time limit.

Read and checked once at start-up: a paper that doesn't total 100 points, or a pass mark other
than 60, stops the app with one line naming the problem.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from services import ServiceError

KINDS = ("single", "multi", "judge")
PAPER_TOTAL = 100
PASS_SCORE = 60  # the notice's 培训测试: 60 of 100 passes


class RulesError(ServiceError):
    """The rules file is missing or wrong."""


@dataclass(frozen=True)
class Rules:
    public: dict[str, int]
    major: dict[str, int]
    points: dict[str, int]
    pass_score: int
    time_limit_s: int

    @property
    def total_points(self) -> int:
        return sum((self.public[k] + self.major[k]) * self.points[k] for k in KINDS)

    @property
    def question_count(self) -> int:
        return sum(self.public.values()) + sum(self.major.values())


def load(path: str | Path) -> Rules:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RulesError(f"exam rules file {path} can't be read: {exc}") from None
    if not isinstance(raw, dict):
        raise RulesError(f"exam rules file {path} must hold a JSON object")
    rules = Rules(
        public=_counts(path, raw, "public"), major=_counts(path, raw, "major"), points=_counts(path, raw, "points"),
        pass_score=_number(path, raw, "pass_score"), time_limit_s=_number(path, raw, "time_limit_min") * 60,
    )
    if any(rules.points[k] <= 0 and rules.public[k] + rules.major[k] > 0 for k in KINDS):
        raise RulesError(f"exam rules file {path}: every type drawn needs points > 0")
    if rules.total_points != PAPER_TOTAL:
        raise RulesError(f"exam rules file {path}: the paper totals {rules.total_points} points, not {PAPER_TOTAL}")
    if rules.pass_score != PASS_SCORE:
        raise RulesError(f"exam rules file {path}: pass_score must be {PASS_SCORE}")
    if rules.time_limit_s <= 0:
        raise RulesError(f"exam rules file {path}: time_limit_min must be > 0")
    return rules


def _counts(path: str | Path, raw: dict[str, object], name: str) -> dict[str, int]:
    entry = raw.get(name)
    if not isinstance(entry, dict) or set(entry) - set(KINDS):
        raise RulesError(f"exam rules file {path}: {name} must map {', '.join(KINDS)} to numbers")
    counts = {kind: entry.get(kind, 0) for kind in KINDS}
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in counts.values()):
        raise RulesError(f"exam rules file {path}: {name} must hold whole numbers >= 0")
    return counts


def _number(path: str | Path, raw: dict[str, object], name: str) -> int:
    value = raw.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RulesError(f"exam rules file {path}: {name} must be a whole number")
    return value
