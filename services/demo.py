"""Development demo data: a small catalog, one class, three fictitious trainees and the sample exam bank.

`load_demo` only creates what is missing and never changes what exists, so `make run` can call
it on every start. A course slot that already holds a course (say, from a real catalog import)
gets no demo lessons. The ID cards are fictitious but carry a valid check digit, so the demo
trainees can bind in the sandbox with the phone and ID card below.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ClassMember, Course, Enrollment, ExerciseQuestion, Lesson, Major, Trainee, TrainingClass
from models.catalog import COURSE_PROFESSIONAL, COURSE_PUBLIC
from models.exam import ExamQuestion
from models.trainee import ENROLLMENT_ADDED, ENROLLMENT_MAIN
from services.exam.bank import SAMPLE_BANK, import_bank
from services.identity.pii import PiiCipher, mask_id_card
from services.school.majors import PROFESSIONAL_HOURS, PUBLIC_HOURS, ensure_majors
from services.timeutil import SHANGHAI

DEMO_CLASS_CODE = "DEMO-JZ"
DEMO_MAJOR = "建筑工程"
DEMO_ADDED_MAJOR = "市政公用工程"
DEMO_COMPANY = "苏州演示建设有限公司"
DEMO_PLACE = "苏州市姑苏区人民路100号智信培训楼3楼"
DEMO_START_IN_DAYS = 3

# The demo videos: a few seconds each, in the repo and served by the development sandbox at
# /dev/media/ (scripts/make-demo-videos makes them), so the demo plays offline.
DEMO_MEDIA = "/dev/media/"
VIDEOS = ((DEMO_MEDIA + "lesson-1.mp4", 16), (DEMO_MEDIA + "lesson-2.mp4", 24), (DEMO_MEDIA + "lesson-3.mp4", 40))

# (title, video URL, duration in seconds, hours); each course's hours add up to its requirement.
DemoLesson = tuple[str, str, int, Decimal]
PUBLIC_LESSONS: tuple[DemoLesson, ...] = (
    ("第1讲 建设工程法律法规新规解读", *VIDEOS[0], Decimal(6)),
    ("第2讲 安全生产管理与事故案例", *VIDEOS[1], Decimal(5)),
    ("第3讲 绿色施工与职业道德", *VIDEOS[2], Decimal(5)),
)
BUILDING_LESSONS: tuple[DemoLesson, ...] = (
    ("第1讲 装配式建筑施工技术", *VIDEOS[0], Decimal(14)),
    ("第2讲 深基坑支护与降水", *VIDEOS[1], Decimal(13)),
    ("第3讲 建筑工程质量验收新规范", *VIDEOS[2], Decimal(13)),
)

# 课后练习 on two demo lessons (the first lessons stay without, so the quickest demo earns hours by
# watching alone): (kind, stem, options, answer letters), as the catalog import stores them.
DemoQuestion = tuple[str, str, tuple[str, ...], str]
DEMO_EXERCISES: dict[str, tuple[DemoQuestion, ...]] = {
    PUBLIC_LESSONS[1][0]: (
        ("single", "生产经营单位的主要负责人对本单位的安全生产工作负什么责任？",
         ("全面责任", "部分责任", "监督责任", "不负责任"), "A"),
        ("multi", "施工现场的“三宝”是指哪些？", ("安全帽", "安全带", "安全网", "绝缘鞋"), "ABC"),
        ("judge", "发生生产安全事故后，事故现场有关人员应当立即报告本单位负责人。", ("对", "错"), "A"),
    ),
    BUILDING_LESSONS[1][0]: (
        ("single", "基坑开挖时，坑边堆载距基坑上口边缘一般不应小于多少？", ("0.5米", "1米", "3米", "5米"), "B"),
        ("multi", "下列属于常见基坑支护形式的有哪些？", ("排桩", "地下连续墙", "土钉墙", "满堂脚手架"), "ABC"),
        ("judge", "基坑降水可以在支护结构施工完成之前随意停止。", ("对", "错"), "B"),
    ),
}


@dataclass(frozen=True)
class DemoTrainee:
    name: str
    id_card: str
    phone: str
    added_major: str | None = None


DEMO_TRAINEES = (
    DemoTrainee("张三", "320508198503150019", "13800138001"),
    DemoTrainee("李梅", "320508199007220027", "13800138002", added_major=DEMO_ADDED_MAJOR),
    DemoTrainee("王五", "320508197809080039", "13800138003"),
)


def load_demo(session: Session, cipher: PiiCipher) -> int:
    """Creates whatever demo data is missing, in one transaction; returns how many rows it added."""
    try:
        majors = ensure_majors(session)
        added = _course(session, None, "公共课程", PUBLIC_LESSONS)
        added += _course(session, majors[DEMO_MAJOR], f"{DEMO_MAJOR}专业课", BUILDING_LESSONS)
        added += _exercises(session)
        training_class, class_added = _demo_class(session, majors[DEMO_MAJOR])
        added += class_added
        for person in DEMO_TRAINEES:
            added += _trainee(session, cipher, person, majors, training_class)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return added + _exam_bank(session)


def _exam_bank(session: Session) -> int:
    """The sample question bank, when the bank is empty (a real bank is never touched)."""
    if session.scalar(select(ExamQuestion.id).limit(1)) is not None:
        return 0
    return import_bank(session, SAMPLE_BANK, None).created


def _course(session: Session, major: Major | None, name: str, lessons: Sequence[DemoLesson]) -> int:
    public = major is None
    slot = Course.kind == COURSE_PUBLIC if major is None else Course.major_id == major.id
    if session.scalar(select(Course.id).where(slot)) is not None:
        return 0
    course = Course(kind=COURSE_PUBLIC if public else COURSE_PROFESSIONAL, major=major, name=name,
                    hours_required=Decimal(PUBLIC_HOURS if public else PROFESSIONAL_HOURS))
    for position, (title, url, duration, hours) in enumerate(lessons, start=1):
        course.lessons.append(
            Lesson(title=title, video_url=url, duration_s=duration, hours=hours, position=position))
    session.add(course)
    return 1 + len(lessons)


def _exercises(session: Session) -> int:
    """The demo questions of each demo lesson (one whose video is a demo file) that has none yet."""
    added = 0
    for title, demo_questions in DEMO_EXERCISES.items():
        for lesson in session.scalars(select(Lesson).where(
                Lesson.title == title, Lesson.video_url.startswith(DEMO_MEDIA))):
            if session.scalar(select(ExerciseQuestion.id).where(ExerciseQuestion.lesson_id == lesson.id)
                              .limit(1)) is not None:
                continue
            for position, (kind, stem, options, answer) in enumerate(demo_questions, start=1):
                session.add(ExerciseQuestion(lesson_id=lesson.id, position=position, kind=kind, stem=stem,
                                             options=json.dumps(options, ensure_ascii=False), answer=answer))
            added += len(demo_questions)
    return added


def _demo_class(session: Session, major: Major) -> tuple[TrainingClass, int]:
    training_class = session.scalar(select(TrainingClass).where(TrainingClass.code == DEMO_CLASS_CODE))
    if training_class is not None:
        return training_class, 0
    day = datetime.now(SHANGHAI).date() + timedelta(days=DEMO_START_IN_DAYS)
    training_class = TrainingClass(
        code=DEMO_CLASS_CODE, major=major, name=f"{major.name}演示班", place=DEMO_PLACE,
        starts_at=datetime.combine(day, time(9, 0), tzinfo=SHANGHAI),
    )
    session.add(training_class)
    session.flush()
    return training_class, 1


def _trainee(session: Session, cipher: PiiCipher, person: DemoTrainee, majors: dict[str, Major],
             training_class: TrainingClass) -> int:
    """Creates the trainee, enrollments and class membership that are missing; returns how many."""
    added = 0
    id_hash = cipher.lookup_hash(person.id_card)
    trainee = session.scalar(select(Trainee).where(Trainee.id_card_hash == id_hash))
    if trainee is None:
        added += 1
        trainee = Trainee(
            name=person.name, phone=person.phone, company=DEMO_COMPANY, id_card_hash=id_hash,
            id_card_enc=cipher.encrypt(person.id_card), id_card_mask=mask_id_card(person.id_card), is_demo=True,
        )
        session.add(trainee)
        session.flush()
    enrolled = {e.major_id for e in trainee.enrollments}
    wanted = [(majors[DEMO_MAJOR], ENROLLMENT_MAIN)]
    if person.added_major:
        wanted.append((majors[person.added_major], ENROLLMENT_ADDED))
    for major, kind in wanted:
        if major.id not in enrolled:
            session.add(Enrollment(trainee=trainee, major=major, kind=kind, fee=major.fee_for(kind)))
            added += 1
    member = session.scalar(select(ClassMember.id).where(
        ClassMember.class_id == training_class.id, ClassMember.trainee_id == trainee.id))
    if member is None:
        session.add(ClassMember(training_class=training_class, trainee=trainee))
        added += 1
    return added
