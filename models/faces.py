"""Face comparison of exam photos (人脸比对): each photo's face embedding, each attempt's review,
and each trainee's consent.

An embedding is biometric data: `vector_enc` holds the 128 numbers encrypted (a key derived from
PII_KEY), and the row goes with its photo (the attempt's deletion cascades; the retention rule
deletes both). A review holds the signals found for an attempt, its risk and the staff decision.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models import Base
from models.types import UTCDateTime, utcnow

FACE_STATES = ("ok", "no_face", "many_faces", "unreadable")
REVIEW_STATES = ("open", "cleared")


class FaceEmbedding(Base):
    """The face found on one photo of an attempt (`moment`: before / after)."""

    __tablename__ = "face_embeddings"
    __table_args__ = (
        UniqueConstraint("attempt_id", "moment"),
        CheckConstraint("moment IN ('before', 'after')", name="moment_known"),
        CheckConstraint("state IN ('ok', 'no_face', 'many_faces', 'unreadable')", name="state_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("exam_attempts.id", ondelete="CASCADE"))
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainees.id", ondelete="CASCADE"), index=True)
    moment: Mapped[str] = mapped_column(String(8))
    photo_key: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(12))
    # AES-GCM of 128 float32 (nonce first); NULL when no face could be embedded.
    vector_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    analysed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FaceReview(Base):
    """What the comparison found for one attempt; `open` with a positive risk puts it in the queue."""

    __tablename__ = "face_reviews"
    __table_args__ = (
        CheckConstraint("state IN ('open', 'cleared')", name="state_known"),
        Index("ix_face_reviews_state_risk", "state", "risk"),
    )

    attempt_id: Mapped[int] = mapped_column(ForeignKey("exam_attempts.id", ondelete="CASCADE"), primary_key=True)
    risk: Mapped[float] = mapped_column(Float, default=0.0)
    # [{"kind", "distance", "attempts": [ids], "trainees": [ids], "count"}]: see services/exam/faces/signals.py.
    signals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(8), default="open")
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The signals' fingerprint staff cleared: new evidence beyond it opens the review again.
    cleared_signals: Mapped[str | None] = mapped_column(String(2000))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FaceConsent(Base):
    """A trainee's separate consent to face comparison (PIPL: face data is sensitive personal data)."""

    __tablename__ = "face_consents"

    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainees.id", ondelete="CASCADE"), primary_key=True)
    given_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Which wording was agreed to (the notice's version), so a changed notice can ask again.
    version: Mapped[str] = mapped_column(String(16))
