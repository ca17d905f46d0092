"""Completion records: written when an exam is passed, cancelled when staff void that exam.

Both functions work inside the caller's transaction (they flush, never commit), so that the exam's
pass, its completion and its result notice land together or not at all.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.completion import Completion

# No 0/O, 1/I/L: a number read aloud over the phone or typed from paper can't be mistaken.
NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
NUMBER_LENGTH = 12  # 31^12 ≈ 7.9e17: not guessable, even by a verification page hammered for years


def new_certificate_number() -> str:
    return "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(NUMBER_LENGTH))


def record_completion(
    session: Session, *, trainee_id: int, major_id: int, score: int, completed_at: datetime,
    attempt_id: int | None = None,
) -> Completion:
    """The trainee completed this major: a new valid completion with a fresh certificate number."""
    completion = Completion(
        number=new_certificate_number(), trainee_id=trainee_id, major_id=major_id,
        attempt_id=attempt_id, score=score, completed_at=completed_at, state="valid",
    )
    session.add(completion)
    session.flush()
    return completion


def cancel_completion_of_attempt(
    session: Session, attempt_id: int, *, reason: str, at: datetime,
) -> Completion | None:
    """Cancel the valid completion that this attempt earned, if any; the number stays, marked cancelled."""
    completion = session.scalar(
        select(Completion).where(Completion.attempt_id == attempt_id, Completion.state == "valid")
    )
    if completion is None:
        return None
    completion.state = "cancelled"
    completion.cancelled_at = at
    completion.cancel_reason = reason[:200]
    session.flush()
    return completion
