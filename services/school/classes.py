"""Classes (班级): staff create them by code; trainees join them through the roster.

Start times are typed in Beijing time and stored in UTC. Creating a class again with the very
same values is a no-op, so scripts may re-run; any difference is refused, since members may
already have been told the old time and place.
"""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import TrainingClass
from services import ServiceError
from services.school.imports import cells
from services.school.majors import MAJOR_NAMES, ensure_majors
from services.timeutil import SHANGHAI

START_FORMAT = "%Y-%m-%d %H:%M"
CODE_MAX, NAME_MAX, PLACE_MAX = 32, 100, 200


class ClassError(ServiceError):
    """A class can't be created as asked."""


class ClassExists(ClassError):
    """A class with this code exists with other values."""


class StartInPast(ClassError):
    """A new class would start before now: most likely a typo in the year or month."""


def parse_local_start(starts_local: str) -> datetime:
    """A start time typed in Beijing time, in any of the usual forms (`cells.local_moment`:
    2027-03-01 09:00, 2027/3/1 9:00, 2027年3月1日 9:00, the picker's 2027-03-01T09:00), to an
    aware UTC datetime."""
    try:
        local = cells.local_moment(starts_local, "开班时间")
    except cells.CellError as exc:
        raise ClassError(exc.message + "（北京时间）") from None
    return local.replace(tzinfo=SHANGHAI).astimezone(UTC)


def local_start(training_class: TrainingClass) -> str:
    return training_class.starts_at.astimezone(SHANGHAI).strftime(START_FORMAT)


def create_class(
    session: Session, code: str, major_name: str, name: str, starts_local: str, place: str,
    allow_past: bool = False, now: datetime | None = None,
) -> tuple[TrainingClass, bool]:
    """Creates the class; returns it and whether it is new (False: it existed, identical).
    A new class starting before `now` is refused (StartInPast) unless `allow_past`."""
    try:
        result = _create(session, cells.compact(code), major_name, cells.text(name), starts_local,
                         cells.text(place))
        if result[1] and not allow_past:
            _check_future(result[0].starts_at, now or datetime.now(UTC))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


def _create(session: Session, code: str, major_name: str, name: str, starts_local: str,
            place: str) -> tuple[TrainingClass, bool]:
    _check_lengths(code, name, place)
    starts_at = parse_local_start(starts_local)
    major = ensure_majors(session).get(cells.compact(major_name))
    if major is None:
        raise ClassError(f"专业“{major_name}”不存在，应为：{'、'.join(MAJOR_NAMES)}")
    existing = session.scalar(select(TrainingClass).where(func.upper(TrainingClass.code) == code.upper()))
    if existing is None:
        training_class = TrainingClass(code=code, major=major, name=name, starts_at=starts_at, place=place)
        session.add(training_class)
        return training_class, True
    if (existing.major_id, existing.name, existing.starts_at, existing.place) \
            != (major.id, name, starts_at, place):
        raise ClassExists(
            f"班级 {existing.code} 已存在（{existing.major.name}，{existing.name}，"
            f"{local_start(existing)}，{existing.place}），与本次填写的不同，未做修改"
        )
    return existing, False


def _check_lengths(code: str, name: str, place: str) -> None:
    limits = (("班级编号", code, CODE_MAX), ("班级名称", name, NAME_MAX), ("上课地点", place, PLACE_MAX))
    for label, value, limit in limits:
        if not value:
            raise ClassError(f"{label}不能为空")
        if len(value) > limit:
            raise ClassError(f"{label}超过{limit}个字")


def _check_future(starts_at: datetime, now: datetime) -> None:
    if starts_at < now:
        raise StartInPast(
            f"开班时间 {starts_at.astimezone(SHANGHAI).strftime(START_FORMAT)}（北京时间）已经过去"
            f"（现在是 {now.astimezone(SHANGHAI).strftime(START_FORMAT)}），请核对年份和日期；未创建班级"
        )
