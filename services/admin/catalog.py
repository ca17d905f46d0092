"""The catalog in the staff console, read only: every course with its lessons in order. Uploads
are `services.school.uploads`'s, the lessons' order and retirement `services.school.catalog`'s."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import Course, Major


def courses(session: Session) -> list[Course]:
    """Every course with its lessons in order, retired ones too: the 公共课 first, then the majors'
    in their order."""
    rows = session.scalars(select(Course).outerjoin(Major, Major.id == Course.major_id)
                           .options(selectinload(Course.lessons)).order_by(Major.position.nullsfirst(), Course.id))
    return list(rows)
