"""Importing the course catalog: courses and their video lessons (CONTRACT §6).

A course is keyed by its slot (the one 公共课, or the 专业课 of a major), its name taken from
the file; a lesson by (course, title), its position by its order in the file. Lessons missing
from the file stay: trainees' progress may point at them. They follow the file's lessons, in their
old order (a second catalog once interleaved its lessons with the first's), and when a course's
lessons then hold more or fewer hours than the course requires, the report says so in `warnings`,
naming the course, both totals and the lessons kept from before: a warning rather than a refusal,
because those lessons may have been watched and can't be deleted, and the new file is still what
staff mean to publish. Only active lessons count in those totals: a lesson staff retired (the
console's 停用) holds no hours a trainee can still earn; one that appears in the file again is
revived (`revived` names it, the preview says so). The workbook's second sheet, 课后练习, holds
the lessons' exercises (`services.school.imports.exercises`), imported in the same transaction.
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
from services.identity import audit
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
    warnings: list[str] = field(default_factory=list)
    revived: list[str] = field(default_factory=list)  # “course：title” of each retired lesson the file revives

    def revived_text(self, done: bool = True) -> str:
        """The revived lessons in one sentence (empty when none): `done` after the import, else a preview's."""
        if not self.revived:
            return ""
        named = "、".join(self.revived[:5]) + ("等" if len(self.revived) > 5 else "")
        verb = "已恢复为在用" if done else "导入后将恢复为在用"
        return f"{len(self.revived)} 个已停用的视频课时{verb}，学员将重新看到：{named}"


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


def import_catalog(session: Session, path: str | Path, dry_run: bool = False, actor: str | None = None,
                   filename: str = "") -> CatalogReport:
    """Imports the catalog at `path`; raises UnreadableFile when the file itself can't be read.
    With `actor` (a staff action) the import is recorded in the audit log, in its transaction.

    With `dry_run` the report is the same (counts, rejected rows, warnings) but nothing is written:
    the staff console previews a file this way before staff confirm it.
    """
    rows = read_sheet(path, COLUMNS)
    report = CatalogReport()
    with transaction(session, commit=not dry_run):
        majors = ensure_majors(session)
        lines = _consistent(report.accepted(rows, lambda row, errors: _parse(row, majors, errors)), report)
        _apply(session, lines, report)
        session.flush()
        report.exercises = import_exercises(session, path)
        if actor is not None and not dry_run:
            notes = [report.revived_text()] if report.revived else []
            audit.record(session, actor, "catalog_imported", f"file:{(filename or Path(path).name)[:80]}",
                         "；".join([report.summary(), *notes, *report.warnings]))
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


def _apply(session: Session, lines: list[Line], report: CatalogReport) -> None:
    courses = {c.major_id: c for c in session.scalars(select(Course).options(selectinload(Course.lessons)))}
    positions: dict[int | None, int] = {}
    for line in lines:
        slot = line.major.id if line.major else None
        renamed = slot not in positions and _course(session, courses, line)
        positions[slot] = positions.get(slot, 0) + 1
        outcome = _lesson(courses[slot], line, positions[slot], report)
        if outcome == "created":
            report.created += 1
        elif outcome == "updated" or renamed:
            report.updated += 1
        else:
            report.unchanged += 1
    for slot, count in positions.items():
        report.warnings.extend(_settle(courses[slot], {line.title for line in lines if _slot_of(line) == slot}, count))


def _slot_of(line: Line) -> int | None:
    return line.major.id if line.major else None


def _settle(course: Course, in_file: set[str], count: int) -> list[str]:
    """Puts the course's lessons missing from the file after the file's own; returns what staff must
    know when the course's active lessons no longer hold the hours it requires."""
    kept = sorted((lesson for lesson in course.lessons if lesson.title not in in_file), key=lambda x: x.position)
    for n, lesson in enumerate(kept, count + 1):
        lesson.position = n
    older = [lesson for lesson in kept if not lesson.retired]
    note = f"；其中 {len(older)} 个视频课时不在本文件中，为以前导入的（{'、'.join(x.title for x in older[:5])}" \
           f"{'等' if len(older) > 5 else ''}），已排在本文件的视频课时之后" if older else ""
    warning = hours_warning(course, note)
    return [warning] if warning else []


def active_hours(course: Course) -> Decimal:
    """The hours of the course's lessons trainees can still study (retired lessons left out)."""
    return sum((Decimal(lesson.hours) for lesson in course.lessons if not lesson.retired), Decimal(0))


def hours_warning(course: Course, note: str = "") -> str | None:
    """What staff must know when the course's active lessons hold more or fewer hours than it
    requires (`note` is said before the consequence); None when they hold exactly those."""
    total, required = active_hours(course), Decimal(course.hours_required)
    if total == required:
        return None
    if total > required:
        return (f"课程“{course.name}”的视频课时共 {_num(total)} 学时，超过该课程要求的 {_num(required)} 学时{note}："
                f"学员看完其中任意 {_num(required)} 学时即修满该课程")
    return (f"课程“{course.name}”的视频课时共 {_num(total)} 学时，少于该课程要求的 {_num(required)} 学时{note}："
            "学员仅靠在用的视频课时无法修满该课程（已学过停用课时的学员，所得学时仍然有效）")


def _num(value: Decimal) -> str:
    return f"{value.normalize():f}"


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


def _lesson(course: Course, line: Line, position: int, report: CatalogReport) -> str:
    values = {"video_url": line.video_url, "duration_s": line.duration_s, "hours": line.hours,
              "position": position}
    lesson = next((lesson for lesson in course.lessons if lesson.title == line.title), None)
    if lesson is None:
        course.lessons.append(Lesson(title=line.title, **values))
        return "created"
    changed = [attr for attr, value in values.items() if getattr(lesson, attr) != value]
    for attr in changed:
        setattr(lesson, attr, values[attr])
    if lesson.retired:
        lesson.retired_at = None  # back in the catalog staff publish: trainees see it again
        report.revived.append(f"{course.name}：{lesson.title}")
        return "updated"
    return "updated" if changed else "unchanged"
