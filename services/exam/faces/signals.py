"""An attempt's signals, in words staff understand, each with its distance, and the attempt's risk.

- 考前考后照片不是同一人: the photo before and the photo after are farther apart than the threshold;
- 与该学员以往照片不符: no photo of the trainee's other attempts (any major) is within the threshold;
- 同一人出现在 N 名学员的考试照片中: photos of other trainees are within the threshold (the known
  pattern: one proxy sitting exams for several trainees), linking those trainees' attempts;
- 照片中未检测到人脸 / 照片中有多人: photos uploaded before the upload check existed.

The risk orders the queue. A shared face weighs most, and more with each trainee it appears for;
each signal weighs more the farther its distance lies beyond the threshold (0.5 at the threshold,
1.5 at twice as far), so a clear case outranks a borderline one.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy only where faces are compared: the queue's pages work without the packages
    import numpy as np

    from services.exam.faces.index import FaceIndex

BEFORE_AFTER = "before_after"
OWN_HISTORY = "own_history"
SHARED_FACE = "shared_face"
NO_FACE = "no_face"
MANY_FACES = "many_faces"
WEIGHTS = {SHARED_FACE: 2.0, BEFORE_AFTER: 2.0, OWN_HISTORY: 1.0}
PHOTO_PROBLEM_RISK = 0.5
LINKED_MAX = 20


@dataclass(frozen=True)
class Signal:
    kind: str
    distance: float | None = None
    attempts: list[int] = field(default_factory=list)  # the linked attempts (other trainees' or earlier ones)
    trainees: list[int] = field(default_factory=list)  # the other trainees showing the same face
    count: int = 0  # trainees showing the face, this one included

    @property
    def text(self) -> str:
        if self.kind == SHARED_FACE:
            return f"同一人出现在 {self.count} 名学员的考试照片中"
        return {BEFORE_AFTER: "考前考后照片不是同一人", OWN_HISTORY: "与该学员以往照片不符",
                NO_FACE: "照片中未检测到人脸，无法比对", MANY_FACES: "照片中有多人"}[self.kind]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Signal:
        return cls(kind=data["kind"], distance=data.get("distance"), attempts=list(data.get("attempts", [])),
                   trainees=list(data.get("trainees", [])), count=int(data.get("count", 0)))


def _beyond(d: float, threshold: float, same: bool) -> float:
    """How far past the threshold a distance lies, as a share of it (0 to 1)."""
    gap = (threshold - d) if same else (d - threshold)
    return min(max(gap / threshold, 0.0), 1.0)


def risk(signals: list[Signal], threshold: float) -> float:
    total = 0.0
    for s in signals:
        if s.kind in (NO_FACE, MANY_FACES) or s.distance is None:
            total += PHOTO_PROBLEM_RISK
        elif s.kind == SHARED_FACE:
            total += WEIGHTS[SHARED_FACE] * (s.count - 1) * (0.5 + _beyond(s.distance, threshold, same=True))
        else:
            total += WEIGHTS[s.kind] * (0.5 + _beyond(s.distance, threshold, same=False))
    return round(total, 4)


def assess(index: FaceIndex, attempt_id: int, trainee_id: int, states: list[str], threshold: float) -> list[Signal]:
    """The signals of one attempt from the index (refreshed) and its photos' states."""
    import numpy as np

    found: list[Signal] = [Signal(state) for state in sorted(set(states)) if state in (NO_FACE, MANY_FACES)]
    mine = np.flatnonzero(index.attempt_ids == attempt_id)
    if not len(mine):
        return found
    table = np.array([index.distances(index.matrix[i]) for i in mine])  # mine × every row
    if len(mine) == 2:
        d = float(table[0, mine[1]])
        if d > threshold:
            found.append(Signal(BEFORE_AFTER, round(d, 4)))
    nearest = table.min(axis=0)
    own = (index.trainee_ids == trainee_id) & (index.attempt_ids != attempt_id)
    if own.any():
        d = float(nearest[own].min())
        if d > threshold:
            order = np.flatnonzero(own)[np.argsort(nearest[own])]
            found.append(Signal(OWN_HISTORY, round(d, 4), attempts=_distinct(index.attempt_ids[order])))
    others = (index.trainee_ids != trainee_id) & (nearest <= threshold)
    if others.any():
        order = np.flatnonzero(others)[np.argsort(nearest[others])]
        trainees = _distinct(index.trainee_ids[order])
        found.append(Signal(SHARED_FACE, round(float(nearest[order[0]]), 4),
                            attempts=_distinct(index.attempt_ids[order]), trainees=trainees, count=len(trainees) + 1))
    return found


def _distinct(values: np.ndarray) -> list[int]:
    seen: list[int] = []
    for v in values.tolist():
        if v not in seen:
            seen.append(int(v))
        if len(seen) == LINKED_MAX:
            break
    return seen


def fingerprint(signals: list[Signal]) -> set[str]:
    """What staff saw: each kind and each linked attempt. New evidence is what lies outside it."""
    marks = {s.kind for s in signals}
    marks.update(f"{s.kind}:{a}" for s in signals for a in s.attempts)
    return marks
