"""Demo data: loaded once, valid enough to bind and study, untouched by a second run."""
from __future__ import annotations

from datetime import datetime, time

import pytest
from sqlalchemy import func, select

from models import ClassMember, Course, Enrollment, ExerciseQuestion, Lesson, Major, Trainee, TrainingClass, db
from models.exam import ExamQuestion
from services.demo import DEMO_CLASS_CODE, DEMO_EXERCISES, DEMO_TRAINEES, load_demo
from services.identity.pii import normalize_phone, validate_id_card
from services.timeutil import SHANGHAI

TABLES = (Major, Course, Lesson, TrainingClass, Trainee, Enrollment, ClassMember, ExamQuestion, ExerciseQuestion)


def counts(app):
    with app.app_context():
        return [db.session.scalar(select(func.count()).select_from(model)) for model in TABLES]


def test_demo_data_loads_once(app):
    with app.app_context():
        added = load_demo(db.session, app.extensions["pii"])
    first = counts(app)
    assert added == sum(first) - 6  # everything but the majors
    assert first == [6, 2, 6, 1, 3, 4, 3, 292, 6]  # 292: the sample exam bank; 6: 课后练习 on two lessons
    with app.app_context():
        assert load_demo(db.session, app.extensions["pii"]) == 0
    assert counts(app) == first


def test_demo_trainees_can_bind_and_belong_to_the_demo_class(app):
    cipher = app.extensions["pii"]
    with app.app_context():
        load_demo(db.session, cipher)
        training_class = db.session.scalar(select(TrainingClass).where(TrainingClass.code == DEMO_CLASS_CODE))
        local = training_class.starts_at.astimezone(SHANGHAI)
        assert training_class.major.name == "建筑工程" and local.time() == time(9, 0)
        assert local > datetime.now(SHANGHAI)
        for person in DEMO_TRAINEES:
            assert validate_id_card(person.id_card) == person.id_card
            assert normalize_phone(person.phone) == person.phone
            trainee = db.session.scalar(
                select(Trainee).where(Trainee.id_card_hash == cipher.lookup_hash(person.id_card)))
            assert trainee.is_demo and trainee.phone == person.phone
            assert cipher.decrypt(trainee.id_card_enc) == person.id_card
            assert db.session.scalar(select(ClassMember.id).where(
                ClassMember.trainee_id == trainee.id, ClassMember.class_id == training_class.id)) is not None
            kinds = {e.major.name: (e.kind, e.fee) for e in trainee.enrollments}
            assert kinds["建筑工程"] == ("main", 615)
            if person.added_major:
                assert kinds[person.added_major] == ("added", 293)


def test_demo_lessons_add_up_to_the_hours_each_course_requires(app):
    with app.app_context():
        load_demo(db.session, app.extensions["pii"])
        for course in db.session.scalars(select(Course)):
            assert sum(lesson.hours for lesson in course.lessons) == course.hours_required
            assert all(lesson.video_url.startswith("/dev/media/") for lesson in course.lessons)


def mp4_seconds(data: bytes) -> float:
    """The length an MP4 declares in its movie header (`mvhd`, version 0)."""
    import struct

    at = data.index(b"mvhd") + 4
    assert data[at] == 0
    timescale, duration = struct.unpack(">II", data[at + 12:at + 20])
    return duration / timescale


def test_demo_videos_are_small_local_files_the_development_app_serves(app, make_app):
    from pathlib import Path

    from services.demo import VIDEOS

    dev = make_app(WXAPP_ENV="development").test_client()
    for url, duration in VIDEOS:
        response = dev.get(url, headers={"Range": "bytes=0-99"})  # players ask for ranges
        assert response.status_code == 206 and response.mimetype == "video/mp4" and len(response.data) == 100
        assert response.data[4:8] == b"ftyp"  # an MP4
        data = (Path(__file__).parents[2] / "wxapp/sandbox/media" / url.rsplit("/", 1)[1]).read_bytes()
        assert len(data) < 100_000 and mp4_seconds(data) == pytest.approx(duration, abs=0.2)
    assert dev.get("/dev/media/../config.py").status_code == 404


def test_two_demo_lessons_with_offline_videos_have_exercises_a_trainee_can_pass(app):
    from models import LessonProgress
    from services.study import exercises
    from services.timeutil import moment

    T0 = 1_800_000_000.0

    with app.app_context():
        load_demo(db.session, app.extensions["pii"])
        with_questions = db.session.scalars(select(Lesson).join(ExerciseQuestion).distinct()).all()
        assert sorted(lesson.title for lesson in with_questions) == sorted(DEMO_EXERCISES)
        assert {lesson.course.kind for lesson in with_questions} == {"public", "professional"}
        for lesson in with_questions:
            assert lesson.video_url.startswith("/dev/media/") and lesson.position > 1
            shown = exercises.questions(db.session, lesson.id)
            assert 2 <= len(shown) <= 3 and {q.kind for q in shown} == {"single", "multi", "judge"}
            for question, (_, stem, options, _) in zip(shown, DEMO_EXERCISES[lesson.title], strict=True):
                assert question.stem == stem and [text for _, text in question.options] == list(options)
                assert "\u4e00" <= question.stem[0] <= "\u9fff"  # Chinese
            # The demo's answers are the ones the grading takes as right.
            trainee = db.session.scalar(select(Trainee).where(Trainee.phone == DEMO_TRAINEES[0].phone))
            db.session.add(LessonProgress(trainee_id=trainee.id, lesson_id=lesson.id, video_done_at=moment(T0)))
            db.session.commit()
            right = {q.id: answer for q, (*_, answer) in zip(shown, DEMO_EXERCISES[lesson.title], strict=True)}
            graded = exercises.grade(db.session, trainee.id, lesson.id, right, T0 + 60)
            assert graded.passed and graded.completed


def test_demo_exercises_are_added_only_where_a_lesson_has_none(app):
    title = next(iter(DEMO_EXERCISES))
    with app.app_context():
        load_demo(db.session, app.extensions["pii"])
        lesson = db.session.scalar(select(Lesson).where(Lesson.title == title))
        own = db.session.scalars(select(ExerciseQuestion).where(ExerciseQuestion.lesson_id == lesson.id)).all()
        for question in own[1:]:
            db.session.delete(question)
        own[0].stem = "学校自己的题目"
        db.session.commit()
        assert load_demo(db.session, app.extensions["pii"]) == 0  # a lesson with questions is left alone
        assert [q.stem for q in db.session.scalars(
            select(ExerciseQuestion).where(ExerciseQuestion.lesson_id == lesson.id))] == ["学校自己的题目"]
        db.session.delete(own[0])
        db.session.commit()
        assert load_demo(db.session, app.extensions["pii"]) == len(DEMO_EXERCISES[title])
