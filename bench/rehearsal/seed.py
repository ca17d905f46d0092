"""The rehearsal's school: trainees in classes of the six majors, bound to OpenIDs, a catalog with
exercises, a question bank, and exam takers with full hours. Bulk inserts (no ORM objects per row).

`cast(...)` names who plays which part; `seed(app, cast)` writes it. The OpenIDs and phones are
derived from the trainee's number, so the load generator needs no database access.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

LESSON_S = 2700
LESSONS_PER_COURSE = 4
BANK_PER_POOL = {"single": 40, "multi": 15, "judge": 30}  # more than a paper draws from each pool
REFUSED_EVERY = 100  # one trainee in REFUSED_EVERY refused the template (43101): texted instead


def openid(n: int) -> str:
    return f"oTerm{n:08d}AbCdEfGhIjKlMnOpq"[:28]


def phone(n: int) -> str:
    return f"139{n:08d}"


def class_code(major_index: int) -> str:
    return f"TERM-{major_index + 1:02d}"


@dataclass(frozen=True)
class Cast:
    trainees: int        # all of them, numbered 1..trainees, bound and following
    exam_takers: int     # numbered 1..exam_takers: full hours, the exam open
    staff_user: str = "bench-admin"
    staff_password: str = "Bench-pass-2027!"

    def refused(self) -> list[str]:
        return [openid(n) for n in range(1, self.trainees + 1) if n % REFUSED_EVERY == 0]

    def to_json(self) -> dict:
        return asdict(self)


def _majors():
    from services.school.majors import MAJORS

    return MAJORS


def seed(app, cast: Cast) -> dict:
    """Writes the school; answers what the load generator needs (lesson ids per major, class codes)."""
    from models import db
    from services.study import hours

    with app.app_context():
        public, courses = _catalog()
        _bank()
        classes = _classes()
        _trainees(app, cast, classes, public, courses)
        db.session.flush()
        hours.rebuild(db.session.connection())
        db.session.commit()
        plan = {
            "public_lessons": [lesson.id for lesson in public.lessons],
            "major_lessons": [[lesson.id for lesson in courses[spec.name].lessons] for spec in _majors()],
            "exercise_lesson": public.lessons[0].id,
            "classes": [c.code for c in classes],
        }
        db.engine.dispose()
    return plan


def _catalog():
    """公共课 and one 专业课 per major, LESSONS_PER_COURSE lessons each; the first lesson has an exercise."""
    from sqlalchemy import insert

    from models import Course, ExerciseQuestion, Lesson, db
    from services.school.majors import ensure_majors

    majors = ensure_majors(db.session)
    public = Course(kind="public", name="公共课程", hours_required=16)
    public.lessons = [Lesson(title=f"公共课第{i}讲", video_url=f"https://media.example.com/p{i}.mp4",
                             duration_s=LESSON_S, hours=4, position=i) for i in range(1, LESSONS_PER_COURSE + 1)]
    courses = {}
    for spec in _majors():
        course = Course(kind="professional", major=majors[spec.name], name=f"{spec.name}专业课", hours_required=40)
        course.lessons = [Lesson(title=f"{spec.name}第{i}讲", video_url=f"https://media.example.com/{spec.code}{i}.mp4",
                                 duration_s=LESSON_S, hours=10, position=i) for i in range(1, LESSONS_PER_COURSE + 1)]
        courses[spec.name] = course
    db.session.add_all([public, *courses.values()])
    db.session.flush()
    db.session.execute(insert(ExerciseQuestion), [
        {"lesson_id": public.lessons[0].id, "position": i, "kind": "single", "stem": f"练习题{i}：施工现场安全管理",
         "options": '["甲", "乙", "丙", "丁"]', "answer": "B"} for i in range(1, 4)])
    return public, courses


def _bank() -> None:
    """A question bank larger than a paper draws from every pool."""
    from sqlalchemy import insert

    from models import db
    from models.exam import PUBLIC_POOL, ExamQuestion
    from services.exam.bank import stem_hash

    now, rows = datetime.now(UTC), []
    answers = {"single": "B", "multi": "ACD", "judge": "T"}
    for pool in [PUBLIC_POOL] + [spec.code for spec in _majors()]:
        for kind, count in BANK_PER_POOL.items():
            options = {"single": ["选项甲", "选项乙", "选项丙", "选项丁"], "judge": [],
                       "multi": ["选项甲", "选项乙", "选项丙", "选项丁", "选项戊"]}[kind]
            for n in range(count):
                stem = f"{pool} {kind} 第{n}题 关于施工质量与安全管理的说法"
                rows.append({"pool": pool, "kind": kind, "stem": stem, "stem_hash": stem_hash(stem), "options": options,
                             "answer": answers[kind], "created_at": now, "updated_at": now})
    db.session.execute(insert(ExamQuestion), rows)


def _classes() -> list:
    from models import TrainingClass, db
    from services.school.majors import ensure_majors

    majors = ensure_majors(db.session)
    classes = [TrainingClass(code=class_code(i), major=majors[spec.name], name=f"{spec.name}继续教育第{i + 1}期",
                             place="苏州市姑苏区培训楼", starts_at=datetime.now(UTC) + timedelta(days=14))
               for i, spec in enumerate(_majors())]
    db.session.add_all(classes)
    db.session.flush()
    return classes


def _trainees(app, cast: Cast, classes: list, public, courses: dict) -> None:
    """Trainee n studies major (n - 1) % 6 in that major's class, is bound to openid(n); the first
    `exam_takers` have every lesson of their courses completed."""
    from sqlalchemy import insert, text

    from models import ClassMember, Enrollment, LessonProgress, Trainee, WechatUser, db
    from models.faces import FaceConsent
    from services.exam.faces.gate import CONSENT_VERSION
    from services.identity.pii import id_card_check_digit, mask_id_card
    from services.school.majors import ensure_majors

    majors, specs, now = ensure_majors(db.session), _majors(), datetime.now(UTC)
    cipher = app.extensions["pii"]
    rows = []
    for n in range(1, cast.trainees + 1):
        card = f"3205051980{n:07d}"
        card += id_card_check_digit(card)
        rows.append({"id": n, "name": f"学员{n}", "phone": phone(n), "company": f"苏州第{n % 40}建设公司",
                     "id_card_hash": cipher.lookup_hash(card), "id_card_enc": cipher.encrypt(card),
                     "id_card_mask": mask_id_card(card), "created_at": now, "updated_at": now})
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(Trainee), rows[start:start + 5000])
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT setval(pg_get_serial_sequence('trainees', 'id'), (SELECT max(id) FROM trainees))"))
    major_of = {n: (n - 1) % len(specs) for n in range(1, cast.trainees + 1)}
    db.session.execute(insert(Enrollment), [
        {"trainee_id": n, "major_id": majors[specs[m].name].id, "kind": "main", "fee": specs[m].fee_main,
         "created_at": now, "updated_at": now} for n, m in major_of.items()])
    db.session.execute(insert(ClassMember), [
        {"class_id": classes[m].id, "trainee_id": n, "created_at": now} for n, m in major_of.items()])
    db.session.execute(insert(WechatUser), [
        {"openid": openid(n), "subscribed": True, "trainee_id": n, "bound_at": now, "created_at": now}
        for n in range(1, cast.trainees + 1)])
    done = [{"trainee_id": n, "lesson_id": lesson.id, "watched": f"[[0, {LESSON_S}]]", "credited_seconds": LESSON_S,
             "max_position": LESSON_S, "position": 0, "video_done_at": now, "completed_at": now, "updated_at": now}
            for n in range(1, cast.exam_takers + 1)
            for lesson in public.lessons + courses[specs[major_of[n]].name].lessons]
    if done:
        db.session.execute(insert(LessonProgress), done)
    # Each exam taker has agreed to face comparison (asked before the first start where it is on).
    db.session.execute(insert(FaceConsent), [
        {"trainee_id": n, "given_at": now, "version": CONSENT_VERSION} for n in range(1, cast.exam_takers + 1)])


def main() -> None:
    """`python -m bench.rehearsal.seed TRAINEES EXAM_TAKERS`: migrates and seeds DATABASE_URL; prints the plan."""
    import sys

    from flask_migrate import upgrade

    from wxapp import create_app

    app = create_app()
    with app.app_context():
        upgrade()
    print("PLAN " + json.dumps(seed(app, Cast(int(sys.argv[1]), int(sys.argv[2])))), flush=True)


if __name__ == "__main__":
    main()
