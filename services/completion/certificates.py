"""Hours certificates (学时证明): what a certificate says, for its owner and for a stranger who verifies it.

`Certificate` is the whole content of one printed certificate (masked ID card, never the full one);
`Verification` is the smaller, masked view that `/verify/<number>` shows to anyone holding the number.
The hours come from `services.school.majors`, the one place that fixes them.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, datetime

import qrcode
import qrcode.image.svg
from sqlalchemy import Integer, Select, bindparam, case, select
from sqlalchemy.orm import Session, joinedload

from models import Completion, Major, Trainee
from services.completion.records import NUMBER_ALPHABET, NUMBER_LENGTH
from services.identity.pii import mask_name
from services.school.majors import EXAM_HOURS, PROFESSIONAL_HOURS, PUBLIC_HOURS
from services.timeutil import SHANGHAI

TOTAL_HOURS = PUBLIC_HOURS + PROFESSIONAL_HOURS + EXAM_HOURS
_NUMBER_RE = re.compile(f"^[{NUMBER_ALPHABET}]{{{NUMBER_LENGTH}}}$")


@dataclass(frozen=True)
class Hours:
    public: int = PUBLIC_HOURS
    professional: int = PROFESSIONAL_HOURS
    exam: int = EXAM_HOURS
    total: int = TOTAL_HOURS


HOURS = Hours()


@dataclass(frozen=True)
class Certificate:
    number: str
    name: str
    id_card_mask: str
    major: str
    score: int
    completed_on: date      # in Asia/Shanghai
    valid: bool
    cancelled_on: date | None
    hours: Hours = HOURS


@dataclass(frozen=True)
class Verification:
    number: str
    masked_name: str
    id_card_mask: str
    major: str
    completed_on: date
    valid: bool
    cancelled_on: date | None
    hours: Hours = HOURS


def local_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def date_text(day: date) -> str:
    """`2027年3月20日`, as the date is written on Chinese certificates."""
    return f"{day.year}年{day.month}月{day.day}日"


def normalize_number(raw: str) -> str | None:
    """The canonical number (a number typed from paper may be lower-case), or None if it can't be one."""
    number = raw.strip().upper()
    return number if _NUMBER_RE.match(number) else None


def qr_svg(text: str) -> str:
    """The QR code of `text` as an inline SVG (vector: sharp on paper, no image file to serve)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=2,
                        error_correction=qrcode.constants.ERROR_CORRECT_M)
    out = io.BytesIO()
    image.save(out)
    svg = out.getvalue().decode()
    return svg[svg.index("<svg"):]  # without the XML declaration, so it can sit inside HTML


def _certificate(completion: Completion) -> Certificate:
    return Certificate(
        number=completion.number, name=completion.trainee.name, id_card_mask=completion.trainee.id_card_mask,
        major=completion.major.name, score=completion.score, completed_on=local_date(completion.completed_at),
        valid=completion.state == "valid",
        cancelled_on=local_date(completion.cancelled_at) if completion.cancelled_at else None,
    )


def _loaded() -> Select[Completion]:
    return select(Completion).options(joinedload(Completion.trainee), joinedload(Completion.major))


# A trainee's certificates as plain rows, built once: the portal asks on every visit, and loading
# each completion with its trainee and major as entities cost more than the page's other queries.
_OF_TRAINEE = (
    select(Completion.number, Trainee.name, Trainee.id_card_mask, Major.name.label("major"), Completion.score,
           Completion.completed_at, Completion.state, Completion.cancelled_at)
    .join(Trainee, Trainee.id == Completion.trainee_id).join(Major, Major.id == Completion.major_id)
    .where(Completion.trainee_id == bindparam("trainee_id", type_=Integer))
    .order_by(case((Completion.state == "valid", 0), else_=1), Completion.completed_at.desc(), Completion.id.desc())
)


def certificates_of(session: Session, trainee_id: int) -> list[Certificate]:
    """A trainee's certificates: valid ones first, then the newest."""
    return [Certificate(
        number=row.number, name=row.name, id_card_mask=row.id_card_mask, major=row.major, score=row.score,
        completed_on=local_date(row.completed_at), valid=row.state == "valid",
        cancelled_on=local_date(row.cancelled_at) if row.cancelled_at else None,
    ) for row in session.execute(_OF_TRAINEE, {"trainee_id": trainee_id})]


def certificate_of(session: Session, trainee_id: int, raw_number: str) -> Certificate | None:
    """The certificate of this number if it belongs to this trainee; None otherwise (another's is not found)."""
    number = normalize_number(raw_number)
    if number is None:
        return None
    completion = session.scalar(_loaded().where(Completion.number == number, Completion.trainee_id == trainee_id))
    return _certificate(completion) if completion else None


def verify(session: Session, raw_number: str) -> Verification | None:
    """What a stranger holding the number may learn: masked, and whether it still holds."""
    number = normalize_number(raw_number)
    if number is None:
        return None
    completion = session.scalar(_loaded().where(Completion.number == number))
    if completion is None:
        return None
    cert = _certificate(completion)
    return Verification(
        number=cert.number, masked_name=mask_name(cert.name), id_card_mask=cert.id_card_mask, major=cert.major,
        completed_on=cert.completed_on, valid=cert.valid, cancelled_on=cert.cancelled_on,
    )
