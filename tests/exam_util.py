"""The exam's test data: a question bank, full hours, photos, and the right keys of a paper."""
from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image

from models import Course, Lesson, LessonProgress, db
from models.exam import PUBLIC_POOL, ExamAttempt, ExamQuestion
from services.exam.bank import stem_hash
from services.exam.paper import LETTERS
from services.school.majors import MAJORS, ensure_majors

ANSWERS = {"single": "B", "multi": "AC", "judge": "T"}
OPTIONS = {"single": ["甲", "乙", "丙", "丁"], "multi": ["甲", "乙", "丙", "丁", "戊"], "judge": []}


def bank(app, majors=("building",), per_kind: int = 20) -> None:
    """`per_kind` questions of each type in the 公共 pool and each major's (code) pool."""
    with app.app_context():
        for pool in (PUBLIC_POOL, *majors):
            for kind, answer in ANSWERS.items():
                for i in range(per_kind):
                    stem = f"{pool} {kind} 第{i + 1}题"
                    db.session.add(ExamQuestion(pool=pool, kind=kind, stem=stem, stem_hash=stem_hash(stem),
                                                options=OPTIONS[kind], answer=answer))
        db.session.commit()


def full_hours(app, trainee_id: int, majors=("建筑工程",), public_done: bool = True, major_done: bool = True) -> None:
    """The 公共课 (16) and each major's 专业课 (40) as one lesson each, completed as asked."""
    with app.app_context():
        by_name = ensure_majors(db.session)
        public = db.session.query(Course).filter_by(kind="public").one_or_none()
        if public is None:
            public = Course(kind="public", name="公共课程", hours_required=16)
            public.lessons = [Lesson(title="公共 1", video_url="https://v.example/p1.mp4", duration_s=60, hours=12),
                              Lesson(title="公共 2", video_url="https://v.example/p2.mp4", duration_s=60, hours=4)]
            db.session.add(public)
        done = [public.lessons[0]] + ([public.lessons[1]] if public_done else [])
        for name in majors:
            course = db.session.query(Course).filter_by(major_id=by_name[name].id).one_or_none()
            if course is None:
                course = Course(kind="professional", major=by_name[name], name=f"{name}专业课", hours_required=40)
                course.lessons = [Lesson(title=f"{name} 1", video_url="https://v.example/m1.mp4", duration_s=60,
                                         hours=40)]
                db.session.add(course)
            if major_done:
                done.append(course.lessons[0])
        db.session.flush()
        have = {p.lesson_id for p in db.session.query(LessonProgress).filter_by(trainee_id=trainee_id)}
        for lesson in done:
            if lesson.id in have:
                continue
            db.session.add(LessonProgress(trainee_id=trainee_id, lesson_id=lesson.id, watched="[]", credited_seconds=0,
                                          max_position=0, position=0, completed_at=datetime.now(UTC)))
        db.session.commit()


def photo(fmt: str = "JPEG", size=(1600, 1200), orientation: int | None = None) -> bytes:
    image = Image.new("RGB", size, (200, 150, 120))
    out = io.BytesIO()
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        exif[0x010F] = "PhoneMaker"
        image.save(out, fmt, exif=exif)
    else:
        image.save(out, fmt)
    return out.getvalue()


def keys_of(app, attempt_id: int, right: bool = True) -> dict[int, list[str]]:
    """The shown keys that answer each question of the attempt right (or, `right=False`, wrong)."""
    with app.app_context():
        attempt = db.session.get(ExamAttempt, attempt_id)
        result = {}
        for item in attempt.paper:
            question = db.session.get(ExamQuestion, item["q"])
            if question.kind == "judge":
                result[question.id] = [question.answer if right else ("F" if question.answer == "T" else "T")]
                continue
            shown = [LETTERS[item["o"].index(letter)] for letter in question.answer]
            if not right:
                shown = [k for k in LETTERS[:len(item["o"])] if k not in shown][:1]
            result[question.id] = sorted(shown)
        return result


def major_code(name: str) -> str:
    return next(spec.code for spec in MAJORS if spec.name == name)


def sit(app, trainee_id: int, token: str = "t", submit: bool = True) -> int:
    """An attempt of the trainee's first exam with a photo, answered right and handed in (a pass
    with both photos) unless `submit` is False (left open); returns its id. Needs `bank` and hours."""
    from datetime import timedelta

    from services.exam import attempts
    from services.timeutil import utcnow
    from wxapp.extensions import exam_tools

    now = utcnow()
    with app.app_context():
        exam_id = attempts.exams_for(db.session, trainee_id)[0].id
        view, _ = attempts.start_attempt(exam_tools(), trainee_id, exam_id, token, photo(), now)
    if submit:
        with app.app_context():
            for question_id, keys in keys_of(app, view.id).items():
                attempts.save_answer(exam_tools(), trainee_id, view.id, token, question_id, keys, now)
            attempts.submit(exam_tools(), trainee_id, view.id, token, photo("PNG"), now + timedelta(minutes=1))
    return view.id
