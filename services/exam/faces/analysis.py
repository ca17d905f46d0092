"""The background work: embed the photos not yet analysed, newest first, then assess the attempts
they belong to (and the attempts of other trainees they turned out to share a face with).

The scheduler runs `run` every ANALYSE_INTERVAL_S within a time budget, so a photo is analysed
within a minute of its upload even while `exam faces backfill` (the same call, without a budget)
works through the photos uploaded before the feature. Two runners at once are harmless: an
embedding is unique per (attempt, moment), the loser of a race rolls back and moves on.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from models.exam import ExamAttempt
from models.faces import FaceEmbedding, FaceReview
from services.db import transaction
from services.exam.faces import FaceSettings
from services.exam.faces import signals as sig
from services.exam.faces.engine import FaceEngine
from services.exam.faces.index import FaceIndex
from services.exam.faces.vault import FaceVault
from services.logfmt import kv
from services.storage import Storage, StorageError

log = logging.getLogger(__name__)

BATCH = 50


@dataclass
class FaceTools:
    """What the background analysis works with, built once per process."""

    session: Session
    storage: Storage
    engine: FaceEngine
    vault: FaceVault
    index: FaceIndex
    settings: FaceSettings


@dataclass
class Report:
    analysed: int = 0
    skipped: int = 0  # photos the store could not give back this time
    assessed: int = 0
    flagged: list[int] = field(default_factory=list)  # attempts newly put in the review queue
    left: bool = False  # photos still waiting when the budget ran out


def pending(session: Session, limit: int) -> list[tuple[int, int, str, str]]:
    """(attempt, trainee, moment, photo key) of photos without an embedding row, newest first."""
    before, after = aliased(FaceEmbedding), aliased(FaceEmbedding)
    rows = session.execute(
        select(ExamAttempt.id, ExamAttempt.trainee_id, ExamAttempt.photo_before, ExamAttempt.photo_after,
               before.id, after.id)
        .outerjoin(before, and_(before.attempt_id == ExamAttempt.id, before.moment == "before"))
        .outerjoin(after, and_(after.attempt_id == ExamAttempt.id, after.moment == "after"))
        .where(or_(and_(ExamAttempt.photo_before.is_not(None), before.id.is_(None)),
                   and_(ExamAttempt.photo_after.is_not(None), after.id.is_(None))))
        .order_by(ExamAttempt.id.desc()).limit(limit)).all()
    found: list[tuple[int, int, str, str]] = []
    for attempt_id, trainee_id, key_before, key_after, done_before, done_after in rows:
        if key_before and done_before is None:
            found.append((attempt_id, trainee_id, "before", key_before))
        if key_after and done_after is None:
            found.append((attempt_id, trainee_id, "after", key_after))
    return found


def embed_photo(tools: FaceTools, attempt_id: int, trainee_id: int, moment: str, key: str) -> bool:
    """Stores the photo's embedding row; False when the store can't give the photo back now."""
    try:
        data = tools.storage.get(key)
    except StorageError as exc:
        log.warning(kv("face_photo_unavailable", attempt=attempt_id, moment=moment, detail=exc.detail))
        return False
    found = tools.engine.embed(data)
    sealed = None if found.vector is None else tools.vault.seal(found.vector, attempt_id, moment)
    try:
        with transaction(tools.session):
            tools.session.add(FaceEmbedding(attempt_id=attempt_id, trainee_id=trainee_id, moment=moment,
                                            photo_key=key, state=found.state, vector_enc=sealed))
    except IntegrityError:
        pass  # another runner stored it first
    return True


def run(tools: FaceTools, now: datetime, budget_s: float | None = None,
        clock: Callable[[], float] = time.monotonic) -> Report:
    """Embeds pending photos (within `budget_s`, or all of them), then assesses their attempts."""
    report = Report()
    if not tools.settings.enabled:
        return report
    stop = None if budget_s is None else clock() + budget_s
    touched: set[int] = set()
    unavailable: set[tuple[int, str]] = set()
    while True:
        batch = [p for p in pending(tools.session, BATCH + len(unavailable)) if (p[0], p[2]) not in unavailable]
        if not batch:
            break
        for attempt_id, trainee_id, moment, key in batch:
            if stop is not None and clock() >= stop:
                report.left = True
                break
            if embed_photo(tools, attempt_id, trainee_id, moment, key):
                report.analysed += 1
                touched.add(attempt_id)
            else:
                report.skipped += 1
                unavailable.add((attempt_id, moment))
        if report.left:
            break
        if touched and budget_s is None and len(touched) >= BATCH:
            assess_attempts(tools, touched, now, report)  # a long backfill shows its findings as it goes
            touched = set()
    if touched:
        assess_attempts(tools, touched, now, report)
    return report


def assess_attempts(tools: FaceTools, attempt_ids: set[int], now: datetime, report: Report | None = None) -> None:
    """Recomputes the signals of these attempts and of the other trainees' attempts they share a face with."""
    report = report if report is not None else Report()
    tools.index.refresh(tools.session, tools.vault)
    queue = sorted(attempt_ids)
    done: set[int] = set()
    with transaction(tools.session):
        while queue:
            attempt_id = queue.pop(0)
            if attempt_id in done:
                continue
            done.add(attempt_id)
            found = _assess_one(tools, attempt_id, now, report)
            if attempt_id in attempt_ids:
                queue.extend(a for s in found if s.kind == sig.SHARED_FACE for a in s.attempts if a not in done)
    report.assessed += len(done)


def _assess_one(tools: FaceTools, attempt_id: int, now: datetime, report: Report) -> list[sig.Signal]:
    session = tools.session
    attempt = session.get(ExamAttempt, attempt_id)
    if attempt is None:
        return []
    states = list(session.scalars(select(FaceEmbedding.state).where(FaceEmbedding.attempt_id == attempt_id)))
    found = sig.assess(tools.index, attempt_id, attempt.trainee_id, states, tools.settings.threshold)
    review = session.get(FaceReview, attempt_id)
    if review is None:
        if not found:
            return found
        review = FaceReview(attempt_id=attempt_id, state="open", risk=0.0, signals=[])
        session.add(review)
    was_waiting = review.state == "open" and review.risk > 0
    review.signals = [s.as_json() for s in found]
    review.risk = sig.risk(found, tools.settings.threshold)
    review.assessed_at = now
    if review.state == "cleared" and not sig.fingerprint(found) <= set((review.cleared_signals or "").split()):
        review.state = "open"  # new evidence since staff cleared it
    if review.state == "open" and review.risk > 0 and not was_waiting:
        report.flagged.append(attempt_id)
        log.info(kv("face_review_flagged", attempt=attempt_id, risk=review.risk,
                    signals=",".join(s.kind for s in found)))
    return found
