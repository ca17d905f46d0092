"""A trainee's study overview: courses with hours, classes, exam state.

The 公共课 counts once whatever the number of majors; each enrolled major adds its 专业课.
Earned hours come from lesson progress, which the study issue adds; until a lesson can be
earned, every course stands at 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, exists, literal, null, or_, select, union_all
from sqlalchemy.orm import Session, selectinload

from models import ClassMember, Course, Enrollment, Major, TrainingClass
from models.catalog import COURSE_PUBLIC
from services.majors import PROFESSIONAL_HOURS, PUBLIC_HOURS


@dataclass(frozen=True)
class CourseLine:
    name: str
    kind: str  # public | professional
    major: str | None
    hours_earned: Decimal
    hours_required: Decimal

    @property
    def complete(self) -> bool:
        return self.hours_earned >= self.hours_required


@dataclass(frozen=True)
class LessonLine:
    id: int
    title: str
    duration_s: int
    hours: Decimal
    completed: bool


@dataclass(frozen=True)
class CourseDetail:
    id: int
    name: str
    kind: str
    major: str | None
    hours_required: Decimal
    hours_earned: Decimal
    lessons: list[LessonLine]

    @property
    def percent(self) -> int:
        return min(100, int(self.hours_earned * 100 / self.hours_required)) if self.hours_required else 0


@dataclass(frozen=True)
class ClassLine:
    code: str
    name: str
    major: str
    starts_at: datetime
    place: str


@dataclass(frozen=True)
class ExamState:
    open: bool
    passed: bool
    best_score: int | None

    @property
    def label(self) -> str:
        if self.passed:
            return f"已合格（{self.best_score}分）"
        if not self.open:
            return "未开放（修满学时后开放）"
        return "可参加考试" if self.best_score is None else f"未合格（最高{self.best_score}分），可补考"


# The 公共课 row (major NULL) and one row per enrolled major, in one round trip; built once.
_COURSES = union_all(
    select(null().label("major"), Course.name.label("course"), Course.hours_required.label("hours"),
           literal(0).label("position"))
    .where(Course.kind == COURSE_PUBLIC),
    select(Major.name, Course.name, Course.hours_required, Major.position)
    .select_from(Enrollment)
    .join(Major, Major.id == Enrollment.major_id)
    .outerjoin(Course, Course.major_id == Major.id)
    .where(Enrollment.trainee_id == bindparam("trainee_id")),
).order_by("position")


def courses(session: Session, trainee_id: int) -> list[CourseLine]:
    """The 公共课 first, then one 专业课 per enrolled major in the majors' order."""
    rows = session.execute(_COURSES, {"trainee_id": trainee_id}).all()
    majors = [row for row in rows if row.major is not None]
    if not majors:
        return []
    public_row = next((row for row in rows if row.major is None), None)
    lines = [CourseLine(
        name=public_row.course if public_row else "公共课程", kind="public", major=None,
        hours_earned=Decimal(0), hours_required=Decimal(public_row.hours if public_row else PUBLIC_HOURS),
    )]
    lines += [CourseLine(
        name=row.course or f"{row.major}专业课", kind="professional", major=row.major,
        hours_earned=Decimal(0), hours_required=Decimal(row.hours or PROFESSIONAL_HOURS),
    ) for row in majors]
    return lines


def course_details(session: Session, trainee_id: int) -> list[CourseDetail]:
    """The catalog courses a trainee studies (公共课 once, then each enrolled major's), with lessons."""
    enrolled = select(Enrollment.major_id).where(Enrollment.trainee_id == trainee_id)
    found = session.scalars(
        select(Course).options(selectinload(Course.lessons), selectinload(Course.major))
        .where(or_(Course.major_id.in_(enrolled), (Course.kind == COURSE_PUBLIC) & exists(enrolled)))
    ).all()
    found = sorted(found, key=lambda c: (c.kind != COURSE_PUBLIC, c.major.position if c.major else 0))
    return [
        CourseDetail(
            id=c.id, name=c.name, kind=c.kind, major=c.major.name if c.major else None,
            hours_required=c.hours_required, hours_earned=Decimal(0),
            lessons=[LessonLine(le.id, le.title, le.duration_s, le.hours, False) for le in c.lessons],
        )
        for c in found
    ]


def exam_state(lines: list[CourseLine]) -> ExamState:
    # Exams and their results arrive with the exam issue; until then the exam opens on full hours.
    return ExamState(open=bool(lines) and all(line.complete for line in lines), passed=False, best_score=None)


def classes(session: Session, trainee_id: int) -> list[ClassLine]:
    rows = session.execute(
        select(TrainingClass, Major.name)
        .join(ClassMember, ClassMember.class_id == TrainingClass.id)
        .join(Major, Major.id == TrainingClass.major_id)
        .where(ClassMember.trainee_id == trainee_id)
        .order_by(TrainingClass.starts_at)
    ).all()
    return [ClassLine(c.code, c.name, major, c.starts_at, c.place) for c, major in rows]
