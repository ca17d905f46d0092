"""Importing the course catalog: courses and their video lessons (CONTRACT §6).

A course is keyed by its slot (the one 公共课, or the 专业课 of a major), its name taken from
the file; a lesson by (course, title), its position by its order in the file. Lessons missing
from the file stay: trainees' progress may point at them. The workbook's second sheet, 课后练习,
holds the lessons' exercises (`services.school.imports.exercises`), imported in the same transaction.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import Course, Lesson, Major
from models.catalog import COURSE_PROFESSIONAL, COURSE_PUBLIC
from services.db import transaction
from services.school.imports import cells
from services.school.imports.exercises import import_exercises
from services.school.imports.sheet import ImportReport, SheetRow, read_sheet
from services.school.majors import MAJOR_NAMES, PROFESSIONAL_HOURS, PUBLIC_HOURS, ensure_majors

COLUMNS = ("课程类型", "专业", "课程名称", "视频标题", "视频地址", "时长(秒)", "学时")
COURSE_TYPES = {"公共课": COURSE_PUBLIC, "专业课": COURSE_PROFESSIONAL}
COURSE_NAME_MAX, TITLE_MAX, URL_MAX = 128, 200, 500


@dataclass
class CatalogReport(ImportReport):
    """The lessons' rows counted as any import's; `exercises` counts the 课后练习 sheet's rows
    (None: the workbook has no such sheet)."""

    exercises: ImportReport | None = field(default=None)


@dataclass(frozen=True)
class Line:
    """One accepted catalog row; `major` None is the 公共课's slot."""

    number: int
    major: Major | None
    course_name: str
    title: str
    video_url: str
    duration_s: int
    hours: Decimal


def import_catalog(session: Session, path: str | Path) -> CatalogReport:
    """Imports the catalog at `path`; raises UnreadableFile when the file itself can't be read."""
    rows = read_sheet(path, COLUMNS)
    report = CatalogReport()
    with transaction(session):
        majors = ensure_majors(session)
        lines = _consistent(report.accepted(rows, lambda row, errors: _parse(row, majors, errors)), report)
        _apply(session, lines, report)
        session.flush()
        report.exercises = import_exercises(session, path)
    report.rejected.sort()
    return report


def _parse(row: SheetRow, majors: dict[str, Major], errors: list[str]) -> Line | None:
    major = _slot(row, majors, errors)
    course_name = _bounded_text(row, "课程名称", COURSE_NAME_MAX, errors)
    title = _bounded_text(row, "视频标题", TITLE_MAX, errors)
    url = cells.text(row["视频地址"])
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in url or len(url) > URL_MAX:
        errors.append("视频地址应为 http:// 或 https:// 开头的网址")
    duration = cells.checked(errors, cells.positive_int, row["时长(秒)"], "时长(秒)")
    hours = cells.checked(errors, cells.positive_decimal, row["学时"], "学时", 2, 1000)
    if errors or duration is None or hours is None:
        return None
    return Line(row.number, major, course_name, title, url, duration, hours)


def _slot(row: SheetRow, majors: dict[str, Major], errors: list[str]) -> Major | None:
    kind = COURSE_TYPES.get(cells.compact(row["课程类型"]))
    major_name = cells.compact(row["专业"])
    if kind is None:
        errors.append("课程类型应为“公共课”或“专业课”")
    elif kind == COURSE_PUBLIC and major_name:
        errors.append("公共课不分专业，专业一栏应留空")
    elif kind == COURSE_PROFESSIONAL and not major_name:
        errors.append("专业课须填写专业")
    elif kind == COURSE_PROFESSIONAL and major_name not in majors:
        errors.append(f"专业“{major_name}”不存在，应为：{'、'.join(MAJOR_NAMES)}")
    return majors.get(major_name)


def _bounded_text(row: SheetRow, column: str, limit: int, errors: list[str]) -> str:
    value = cells.text(row[column])
    if not value:
        errors.append(f"{column}为空")
    elif len(value) > limit:
        errors.append(f"{column}超过{limit}个字")
    return value


def _consistent(lines: Iterable[Line], report: ImportReport) -> list[Line]:
    """Drops rows that contradict an earlier row: one name per course, one row per lesson."""
    first_of_slot: dict[int | None, Line] = {}
    row_of_lesson: dict[tuple[int | None, str], int] = {}
    kept = []
    for line in lines:
        slot = line.major.id if line.major else None
        first = first_of_slot.setdefault(slot, line)
        if first.course_name != line.course_name:
            report.reject(line.number,
                          f"课程名称与第{first.number}行“{first.course_name}”不一致，同一课程只能有一个名称")
        elif (slot, line.title) in row_of_lesson:
            report.reject(line.number, f"与第{row_of_lesson[slot, line.title]}行的视频标题重复")
        else:
            row_of_lesson[slot, line.title] = line.number
            kept.append(line)
    return kept


def _apply(session: Session, lines: list[Line], report: ImportReport) -> None:
    courses = {c.major_id: c for c in session.scalars(select(Course).options(selectinload(Course.lessons)))}
    positions: dict[int | None, int] = {}
    for line in lines:
        slot = line.major.id if line.major else None
        renamed = slot not in positions and _course(session, courses, line)
        positions[slot] = positions.get(slot, 0) + 1
        outcome = _lesson(courses[slot], line, positions[slot])
        if outcome == "created":
            report.created += 1
        elif outcome == "updated" or renamed:
            report.updated += 1
        else:
            report.unchanged += 1


def _course(session: Session, courses: dict[int | None, Course], line: Line) -> bool:
    """Creates the line's course or renames it; True when an existing course was renamed."""
    slot = line.major.id if line.major else None
    course = courses.get(slot)
    if course is None:
        public = line.major is None
        courses[slot] = Course(
            kind=COURSE_PUBLIC if public else COURSE_PROFESSIONAL, major=line.major, name=line.course_name,
            hours_required=Decimal(PUBLIC_HOURS if public else PROFESSIONAL_HOURS),
        )
        session.add(courses[slot])
        return False
    if course.name != line.course_name:
        course.name = line.course_name
        return True
    return False


def _lesson(course: Course, line: Line, position: int) -> str:
    values = {"video_url": line.video_url, "duration_s": line.duration_s, "hours": line.hours,
              "position": position}
    lesson = next((lesson for lesson in course.lessons if lesson.title == line.title), None)
    if lesson is None:
        course.lessons.append(Lesson(title=line.title, **values))
        return "created"
    changed = [attr for attr, value in values.items() if getattr(lesson, attr) != value]
    for attr in changed:
        setattr(lesson, attr, values[attr])
    return "updated" if changed else "unchanged"
