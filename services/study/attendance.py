"""Attendance checks (考勤验证): single-use QR tokens that only the trainee's own WeChat can confirm.

A check is issued by `services.study.player` while a lesson plays, recorded here before Redis
shows it to the page. Its token (192 random bits) is
kept in Redis, where the QR is drawn from; the database records the check with the token's
SHA-256 only, and the token is never logged. Confirming consumes the token atomically (a Lua
script): of any number of simultaneous confirms exactly one wins, and none wins once the
trainee's player has seen the check expire.
"""
from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass

import qrcode
import redis as redis_lib
from qrcode.image.pil import PilImage
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from models import AttendanceCheck, AttendanceRefusal, Lesson, Trainee
from services import keys
from services.links import Links
from services.redis_tools import text as redis_text
from services.study.play_state import NewCheck
from services.timeutil import moment

# Seconds a check's Redis data outlives its expiry, so that a late poll still reads `expired`.
KEEP_S = 3600

# KEYS[1]: the token key, KEYS[2]: the check hash, KEYS[3]: the trainee's play hash (services.study.play_state).
# ARGV[1]: the check id, ARGV[2]: now (seconds). Returns verified, used or expired.
_CONFIRM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'used' end
if redis.call('HGET', KEYS[3], 'chk') ~= ARGV[1] then return 'expired' end
if tonumber(ARGV[2]) > tonumber(redis.call('HGET', KEYS[2], 'exp')) then return 'expired' end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[2], 'status', 'verified')
redis.call('HSET', KEYS[3], 'ok', ARGV[1])
redis.call('HINCRBY', KEYS[3], 'v', 1)
return 'verified'
"""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_check(trainee_id: int, lesson_id: int, now: float, ttl_s: int) -> NewCheck:
    token = secrets.token_urlsafe(24)
    return NewCheck(id=secrets.token_hex(8), token=token, token_hash=token_hash(token), trainee_id=trainee_id,
                    lesson_id=lesson_id, issued_at=now, expires_at=now + ttl_s)


def record_issued(session: Session, check: NewCheck) -> None:
    session.execute(insert(AttendanceCheck).values(
        public_id=check.id, trainee_id=check.trainee_id, lesson_id=check.lesson_id, token_hash=check.token_hash,
        issued_at=moment(check.issued_at), expires_at=moment(check.expires_at), status="pending",
    ))


def withdraw(session: Session, check_id: str) -> None:
    """Deletes the row of a check that was recorded but never shown (its Redis write lost a race)."""
    session.execute(delete(AttendanceCheck).where(AttendanceCheck.public_id == check_id,
                                                  AttendanceCheck.status == "pending"))


def record_expired(redis: redis_lib.Redis, session: Session, check_id: str) -> None:
    """The player saw the check expire unverified: so say Redis and the database (the caller commits)."""
    pipe = redis.pipeline(transaction=False)
    pipe.hset(keys.attendance_check(check_id), "status", "expired")
    pipe.expire(keys.attendance_check(check_id), KEEP_S)
    pipe.execute()
    session.execute(update(AttendanceCheck).where(AttendanceCheck.public_id == check_id,
                                                  AttendanceCheck.status == "pending").values(status="expired"))


@dataclass(frozen=True)
class Check:
    id: str
    trainee_id: int
    lesson_id: int
    expires_at: float
    status: str  # pending | verified | expired


def status_at(status: str, expires_at: float, now: float) -> str:
    """A check's status as of `now`: a pending check past its expiry is expired, noticed or not."""
    return "expired" if status == "pending" and now > expires_at else status


def _from_redis(raw: dict[bytes | str, bytes | str], check_id: str, now: float) -> Check | None:
    fields = {redis_text(k): redis_text(v) or "" for k, v in raw.items()}
    if "exp" not in fields:
        return None
    expires_at = float(fields["exp"])
    status = status_at(fields["status"], expires_at, now)
    return Check(check_id, int(fields["trainee"]), int(fields["lesson"]), expires_at, status)


def _from_row(row: AttendanceCheck | None, now: float) -> Check | None:
    if row is None:
        return None
    expires_at = row.expires_at.timestamp()
    status = status_at(row.status, expires_at, now)
    return Check(row.public_id, row.trainee_id, row.lesson_id or 0, expires_at, status)


def by_id(redis: redis_lib.Redis, session: Session, check_id: str, now: float) -> Check | None:
    if not check_id or len(check_id) > 32:
        return None
    found = _from_redis(redis.hgetall(keys.attendance_check(check_id)), check_id, now)
    if found is None:
        found = _from_row(session.scalar(select(AttendanceCheck).where(AttendanceCheck.public_id == check_id)), now)
    return found


def by_token(redis: redis_lib.Redis, session: Session, token: str, now: float) -> Check | None:
    """The check a scanned token stands for, used or not; None for a token never issued."""
    if not token or len(token) > 64:
        return None
    hashed = token_hash(token)
    check_id = redis_text(redis.get(keys.attendance_token(hashed)))
    if check_id is not None:
        return by_id(redis, session, check_id, now)
    return _from_row(session.scalar(select(AttendanceCheck).where(AttendanceCheck.token_hash == hashed)), now)


def confirm(redis: redis_lib.Redis, session: Session, token: str, check: Check, openid: str, now: float) -> str:
    """Consumes the check's token for its own trainee's WeChat (the caller made sure of that);
    returns `verified` for the one confirm that won, else `used` or `expired`."""
    outcome = str(redis_text(redis.register_script(_CONFIRM)(
        keys=[keys.attendance_token(token_hash(token)), keys.attendance_check(check.id), keys.play(check.trainee_id)],
        args=[check.id, f"{now:.3f}"],
    )))
    if outcome == "verified":
        session.execute(update(AttendanceCheck).where(AttendanceCheck.public_id == check.id).values(
            status="verified", verified_at=moment(now), verified_openid=openid))
        session.commit()
    return outcome


def refuse(session: Session, check: Check, openid: str, now: float) -> None:
    """Records a confirm tried by a WeChat that isn't the trainee's; the check stays pending."""
    row_id = session.scalar(select(AttendanceCheck.id).where(AttendanceCheck.public_id == check.id))
    if row_id is not None:
        session.add(AttendanceRefusal(check_id=row_id, openid=openid, at=moment(now)))
        session.commit()


def who(session: Session, check: Check) -> tuple[str, str]:
    """(the trainee's name, the lesson's title) for the page a scan opens."""
    row = session.execute(
        select(Trainee.name, Lesson.title).select_from(Trainee).outerjoin(Lesson, Lesson.id == check.lesson_id)
        .where(Trainee.id == check.trainee_id)
    ).first()
    return (row.name, row.title or "") if row else ("", "")


def qr_png(redis: redis_lib.Redis, check_id: str, links: Links) -> bytes | None:
    """The check's QR code (its confirm page) as a PNG, drawn once and kept in Redis while the check lives."""
    cached = redis.get(keys.attendance_qr(check_id))
    if isinstance(cached, bytes):
        return cached
    pipe = redis.pipeline(transaction=False)
    pipe.hget(keys.attendance_check(check_id), "token")
    pipe.ttl(keys.attendance_check(check_id))
    token, ttl = pipe.execute()
    if token is None:
        return None
    image = qrcode.make(links.attend(redis_text(token) or ""), image_factory=PilImage,
                        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    png = buffer.getvalue()
    redis.set(keys.attendance_qr(check_id), png, ex=max(ttl, 60))
    return png
