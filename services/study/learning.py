"""A trainee's study overview: courses with hours, classes, exam state.

The 公共课 counts once whatever the number of majors; each enrolled major adds its 专业课.
A course's earned hours are `services.study.hours`' (the hours of its completed lessons, at most the
hours it requires). A lesson staff retired is neither listed nor offered as the next one, but the
hours a trainee earned on it still count.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Integer,
    Row,
    bindparam,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from models import ClassMember, Course, Enrollment, Lesson, LessonProgress, Major, TrainingClass
from models.catalog import COURSE_PUBLIC
from services.school.majors import PROFESSIONAL_HOURS, PUBLIC_HOURS
from services.study import hours
from services.timeutil import SHANGHAI


def hours_text(value: Decimal | int | str) -> str:
    """学时 as people write them: 2, 2.5 (never 2.00)."""
    return f"{Decimal(value).normalize():f}"

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


def voided_text(voided_on: str | None, reason: str | None) -> str | None:
    """`成绩已取消（2026年12月7日，原因：照片与本人不符）`, while a voided pass is the last word on an exam."""
    if voided_on is None:
        return None
    why = f"，原因：{reason}" if reason else ""
    return f"成绩已取消（{voided_on}{why}）"


@dataclass(frozen=True)
class MajorExam:
    """One major's exam as the chat and the portal show it (built by `services.exam.state`)."""

    major: str
    state: str  # locked | open | in_progress | passed
    best_score: int | None
    missing: tuple[str, ...] = ()
    voided_on: str | None = None  # staff cancelled the pass (取消测试成绩) that day, nothing handed in since
    void_reason: str | None = None

    @property
    def voided(self) -> str | None:
        return voided_text(self.voided_on, self.void_reason)

    @property
    def label(self) -> str:
        if self.state == "passed":
            return f"已合格（{self.best_score}分）"
        if self.state == "in_progress":
            return "考试进行中"
        if self.voided:
            then = "可重新参加考试" if self.state == "open" else "，".join(("未开放",) + self.missing)
            return f"{self.voided}，{then}"
        if self.state == "locked":
            return "未开放，" + "，".join(self.missing) if self.missing else "未开放"
        return "可参加考试" if self.best_score is None else f"未合格（最高{self.best_score}分），可免费补考"


@dataclass(frozen=True)
class ExamState:
    open: bool
    passed: bool
    best_score: int | None
    majors: tuple[MajorExam, ...] = ()

    @property
    def label(self) -> str:
        if self.majors:
            return "；".join(f"{m.major}：{m.label}" for m in self.majors)
        if self.passed:
            return f"已合格（{self.best_score}分）"
        if not self.open:
            return "未开放（修满学时后开放）"
        return "可参加考试" if self.best_score is None else f"未合格（最高{self.best_score}分），可补考"


# The 公共课 row (major NULL) and one row per enrolled major, in one round trip; built once.
_COURSES: CompoundSelect[*tuple[object, ...]] = union_all(
    select(null().label("major"), Course.name.label("course"), Course.hours_required.label("hours"),
           literal(0).label("position"), hours.earned_of(Course.id).label("earned"))
    .where(Course.kind == COURSE_PUBLIC),
    select(Major.name, Course.name, Course.hours_required, Major.position, hours.earned_of(Course.id))
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
    public_required = Decimal(public_row.hours if public_row else PUBLIC_HOURS)
    lines = [CourseLine(
        name=public_row.course if public_row else "公共课程", kind="public", major=None,
        hours_earned=hours.capped(public_row.earned if public_row else 0, public_required),
        hours_required=public_required,
    )]
    lines += [CourseLine(
        name=row.course or f"{row.major}专业课", kind="professional", major=row.major,
        hours_earned=hours.capped(row.earned, row.hours or PROFESSIONAL_HOURS),
        hours_required=Decimal(row.hours or PROFESSIONAL_HOURS),
    ) for row in majors]
    return lines


def _studied_courses(trainee_id: int | BindParameter[int]) -> ColumnElement[bool]:
    """The courses a trainee studies: the 公共课 once they are enrolled at all, and each enrolled major's."""
    enrolled = select(Enrollment.major_id).where(Enrollment.trainee_id == trainee_id)
    return or_(Course.major_id.in_(enrolled), (Course.kind == COURSE_PUBLIC) & exists(enrolled))


# The courses a trainee studies with their lessons in view (retired ones left out), a row per lesson
# (a course without one: one row, lesson columns NULL), with the hours earned in the course and
# whether the trainee completed the lesson: the portal's course list in one round trip of plain
# rows (it was three); built once.
_DETAILS = (
    select(Course.id, Course.name, Course.kind, Course.hours_required, Major.name.label("major"),
           Lesson.id.label("lesson_id"), Lesson.title, Lesson.duration_s, Lesson.hours,
           hours.earned_of(Course.id).label("earned"),
           exists().where(LessonProgress.trainee_id == bindparam("trainee_id", type_=Integer),
                          LessonProgress.lesson_id == Lesson.id,
                          LessonProgress.completed_at.is_not(None)).label("done"))
    .outerjoin(Major, Major.id == Course.major_id)
    .outerjoin(Lesson, (Lesson.course_id == Course.id) & Lesson.retired_at.is_(None))
    .where(_studied_courses(bindparam("trainee_id", type_=Integer)))
    .order_by(Course.kind != COURSE_PUBLIC, func.coalesce(Major.position, 0), Course.id, Lesson.position, Lesson.id)
)


def course_details(session: Session, trainee_id: int) -> list[CourseDetail]:
    """The catalog courses a trainee studies (公共课 once, then each enrolled major's), with lessons
    and what the trainee completed (one query)."""
    found: dict[int, CourseDetail] = {}
    for row in session.execute(_DETAILS, {"trainee_id": trainee_id}):
        course = found.get(row.id)
        if course is None:
            course = found[row.id] = CourseDetail(
                id=row.id, name=row.name, kind=row.kind, major=row.major, hours_required=row.hours_required,
                hours_earned=hours.capped(row.earned, row.hours_required), lessons=[])
        if row.lesson_id is not None:
            lesson = LessonLine(row.lesson_id, row.title, row.duration_s, row.hours, bool(row.done))
            course.lessons.append(lesson)
    return list(found.values())


@dataclass(frozen=True)
class LessonInfo:
    id: int
    title: str
    video_url: str
    duration_s: int
    hours: Decimal
    course_name: str
    retired: bool = False


def lesson_for(session: Session, trainee_id: int, lesson_id: int) -> LessonInfo | None:
    """The lesson, when it belongs to a course the trainee studies (retired or not: see `retired`)."""
    row = session.execute(
        select(Lesson.id, Lesson.title, Lesson.video_url, Lesson.duration_s, Lesson.hours, Course.name,
               Lesson.retired_at.is_not(None))
        .join(Course, Course.id == Lesson.course_id)
        .where(Lesson.id == lesson_id, _studied_courses(trainee_id))
    ).first()
    return LessonInfo(*row) if row else None


def exam_state(lines: list[CourseLine]) -> ExamState:
    # Exams and their results arrive with the exam issue; until then the exam opens on full hours.
    return ExamState(open=bool(lines) and all(line.complete for line in lines), passed=False, best_score=None)


_STARTED = select(exists().where(LessonProgress.trainee_id == bindparam("trainee_id", type_=Integer)))


def started(session: Session, trainee_id: int) -> bool:
    """Whether the trainee has watched any lesson at all (the portal says 开始学习 until then)."""
    return session.scalar(_STARTED, {"trainee_id": trainee_id}) or False


def days_to_start(starts_at: datetime, now: datetime) -> int:
    """Whole days from today to the class's first day, in Beijing time (0: it starts today)."""
    return (starts_at.astimezone(SHANGHAI).date() - now.astimezone(SHANGHAI).date()).days


_CLASSES = (
    select(TrainingClass.code, TrainingClass.name, Major.name.label("major"), TrainingClass.starts_at,
           TrainingClass.place)
    .join(ClassMember, ClassMember.class_id == TrainingClass.id)
    .join(Major, Major.id == TrainingClass.major_id)
    .where(ClassMember.trainee_id == bindparam("trainee_id", type_=Integer))
    .order_by(TrainingClass.starts_at)
)


def classes(session: Session, trainee_id: int) -> list[ClassLine]:
    return [ClassLine(*row) for row in session.execute(_CLASSES, {"trainee_id": trainee_id})]


@dataclass(frozen=True)
class NextLesson:
    id: int
    title: str


def next_lesson(session: Session, lesson_id: int, trainee_id: int | None = None) -> NextLesson | None:
    """The active lesson after this one in its course (what the end of a lesson offers as 下一讲);
    after the 公共课's last lesson, the first 专业课 lesson the trainee (when given) has not completed."""
    current = select(Lesson.course_id, Lesson.position, Lesson.id).where(Lesson.id == lesson_id).subquery()
    row = session.execute(
        select(Lesson.id, Lesson.title).join(current, Lesson.course_id == current.c.course_id)
        .where(Lesson.retired_at.is_(None))
        .where((Lesson.position > current.c.position)
               | ((Lesson.position == current.c.position) & (Lesson.id > current.c.id)))
        .order_by(Lesson.position, Lesson.id).limit(1)
    ).first()
    kind = select(Course.kind).join(Lesson, Lesson.course_id == Course.id).where(Lesson.id == lesson_id)
    if row is None and trainee_id is not None and session.scalar(kind) == COURSE_PUBLIC:
        row = _first_professional(session, trainee_id)
    return NextLesson(*row) if row else None


def _first_professional(session: Session, trainee_id: int) -> Row[int, str] | None:
    done = select(LessonProgress.lesson_id).where(LessonProgress.trainee_id == trainee_id,
                                                  LessonProgress.completed_at.is_not(None))
    return session.execute(
        select(Lesson.id, Lesson.title).join(Course, Course.id == Lesson.course_id)
        .join(Enrollment, (Enrollment.major_id == Course.major_id) & (Enrollment.trainee_id == trainee_id))
        .join(Major, Major.id == Course.major_id)
        .where(Lesson.retired_at.is_(None), Lesson.id.not_in(done))
        .order_by(Major.position, Lesson.position, Lesson.id).limit(1)
    ).first()
