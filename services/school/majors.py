"""The six majors (专业) of the school's notice, their fees, and the hours every trainee owes.

The notice fixes these values; `ensure_majors` makes the database hold them, whatever it held.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Major

PUBLIC_HOURS = 16        # 公共课, once per trainee whatever the number of majors
PROFESSIONAL_HOURS = 40  # 专业课, per major
EXAM_HOURS = 4


@dataclass(frozen=True)
class MajorSpec:
    code: str
    name: str
    fee_main: Decimal   # 主项, 元/人
    fee_added: Decimal  # 增项, 元/人


MAJORS: tuple[MajorSpec, ...] = (
    MajorSpec("building", "建筑工程", Decimal(615), Decimal(297)),
    MajorSpec("municipal", "市政公用工程", Decimal(611), Decimal(293)),
    MajorSpec("electromechanical", "机电工程", Decimal(622), Decimal(304)),
    MajorSpec("highway", "公路工程", Decimal(608), Decimal(290)),
    MajorSpec("water", "水利水电工程", Decimal(611), Decimal(293)),
    MajorSpec("mining", "矿业工程", Decimal(568), Decimal(250)),
)
MAJOR_NAMES: tuple[str, ...] = tuple(spec.name for spec in MAJORS)


def ensure_majors(session: Session) -> dict[str, Major]:
    """Inserts the missing majors and brings names, fees and order up to date.

    Flushes only: the caller owns the transaction. Returns the majors by Chinese name.
    """
    existing = {major.code: major for major in session.scalars(select(Major))}
    for position, spec in enumerate(MAJORS, start=1):
        major = existing.get(spec.code)
        if major is None:
            major = Major(code=spec.code)
            session.add(major)
            existing[spec.code] = major
        values = {"name": spec.name, "fee_main": spec.fee_main, "fee_added": spec.fee_added, "position": position}
        for attr, value in values.items():
            if getattr(major, attr) != value:
                setattr(major, attr, value)
    session.flush()
    return {spec.name: existing[spec.code] for spec in MAJORS}
