"""The review queue staff get through (/admin/exams/review), its count on the dashboard, 确认无误
(recorded in the audit log, in the same transaction), an attempt's signals for `exam faces show`,
and the photo retention rule (PHOTO_RETENTION_DAYS: photos and their embeddings deleted together).

取消成绩 is the existing void (services.exam.staff.void through services.admin.exam_review); a
voided attempt leaves the queue. Nothing here cancels a result.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session

from models.exam import ExamAttempt
from models.faces import FaceEmbedding, FaceReview
from services.db import affected, transaction
from services.exam import ExamError
from services.exam.faces import signals as sig
from services.identity import audit
from services.logfmt import kv
from services.storage import Storage, StorageError

log = logging.getLogger(__name__)

QUEUE_PAGE = 50


@dataclass(frozen=True)
class QueueItem:
    attempt: ExamAttempt
    review: FaceReview
    signals: list[sig.Signal]
    linked: dict[int, ExamAttempt]  # the attempts the signals point to, by id


def _waiting() -> Select[FaceReview, ExamAttempt]:
    return select(FaceReview, ExamAttempt).join(ExamAttempt, ExamAttempt.id == FaceReview.attempt_id).where(
        FaceReview.state == "open", FaceReview.risk > 0, ExamAttempt.voided_at.is_(None))


def waiting_count(session: Session) -> int:
    """Attempts waiting for a staff decision (the dashboard's figure)."""
    return session.scalar(select(func.count()).select_from(_waiting().subquery())) or 0


def queue(session: Session, limit: int = QUEUE_PAGE) -> list[QueueItem]:
    """The attempts waiting, riskiest first, with their signals and linked attempts."""
    rows = session.execute(_waiting().order_by(FaceReview.risk.desc(), FaceReview.attempt_id).limit(limit)).all()
    items = []
    for review, attempt in rows:
        found = [sig.Signal.from_json(s) for s in review.signals]
        ids = sorted({a for s in found for a in s.attempts})
        linked = {a.id: a for a in session.scalars(select(ExamAttempt).where(ExamAttempt.id.in_(ids)))} if ids else {}
        items.append(QueueItem(attempt, review, found, linked))
    return items


def clear(session: Session, attempt_id: int, actor: str, now: datetime) -> FaceReview:
    """确认无误: staff looked and the photos are the trainee's; recorded, leaves the queue (until new
    evidence beyond what was seen turns up)."""
    with transaction(session):
        review = session.get(FaceReview, attempt_id)
        attempt = session.get(ExamAttempt, attempt_id)
        if review is None or attempt is None:
            raise ExamError(f"考试记录 {attempt_id} 不在待复核名单中", 404)
        if review.state == "cleared":
            raise ExamError(f"考试记录 {attempt_id} 已由 {review.decided_by} 确认无误")
        found = [sig.Signal.from_json(s) for s in review.signals]
        review.state, review.decided_by, review.decided_at = "cleared", actor[:64], now
        review.cleared_signals = " ".join(sorted(sig.fingerprint(found)))[:2000]
        audit.record(session, actor, "exam_face_cleared", f"attempt:{attempt_id}",
                     f"{attempt.trainee.name}（{attempt.trainee.id_card_mask}）{attempt.major.name}：人脸比对复核确认无误"
                     f"（{'；'.join(s.text for s in found)}）")
    log.info(kv("face_review_cleared", attempt=attempt_id, by=actor))
    return review


@dataclass(frozen=True)
class AttemptFaces:
    attempt: ExamAttempt
    photos: list[FaceEmbedding]
    review: FaceReview | None
    signals: list[sig.Signal]


def attempt_faces(session: Session, attempt_id: int) -> AttemptFaces:
    """One attempt's photos' analysis and its signals (`exam faces show`)."""
    attempt = session.get(ExamAttempt, attempt_id)
    if attempt is None:
        raise ExamError(f"没有编号为 {attempt_id} 的考试记录", 404)
    photos = list(session.scalars(select(FaceEmbedding).where(FaceEmbedding.attempt_id == attempt_id)
                                  .order_by(FaceEmbedding.moment.desc())))
    review = session.get(FaceReview, attempt_id)
    found = [sig.Signal.from_json(s) for s in review.signals] if review else []
    return AttemptFaces(attempt, photos, review, found)


@dataclass(frozen=True)
class Purged:
    attempts: int
    photos: int
    embeddings: int


def purge_photos(session: Session, storage: Storage, now: datetime, days: int, batch: int = 200) -> Purged:
    """Deletes the exam photos older than `days` (by the attempt's start) with their embeddings.
    A photo the store can't delete now stays, with its embedding, for the next run."""
    cutoff = now - timedelta(days=days)
    attempts = photos = embeddings = 0
    while True:
        found = list(session.scalars(
            select(ExamAttempt).where(ExamAttempt.started_at < cutoff,
                                      or_(ExamAttempt.photo_before.is_not(None), ExamAttempt.photo_after.is_not(None)))
            .order_by(ExamAttempt.id).limit(batch)))
        if not found:
            break
        kept = 0
        with transaction(session):
            for attempt in found:
                gone = [_delete(storage, key) for key in (attempt.photo_before, attempt.photo_after) if key]
                if not all(gone):
                    kept += 1
                    continue
                photos += len(gone)
                attempt.photo_before = attempt.photo_after = None
                embeddings += affected(session, delete(FaceEmbedding).where(FaceEmbedding.attempt_id == attempt.id))
                attempts += 1
        if kept == len(found):
            break  # the store refuses: try again at the next run
    if attempts:
        log.info(kv("exam_photos_purged", attempts=attempts, photos=photos, embeddings=embeddings, days=days))
    return Purged(attempts, photos, embeddings)


def _delete(storage: Storage, key: str) -> bool:
    try:
        storage.delete(key)
    except (StorageError, OSError):
        return False
    return True
