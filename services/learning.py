"""A trainee's study overview: courses with hours, classes, exam state.

The 公共课 counts once whatever the number of majors; each enrolled major adds its 专业课.
Earned hours come from lesson progress, which the study issue adds; until a lesson can be
earned, every course stands at 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, literal, null, select, union_all
from sqlalchemy.orm import Session

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
