"""The hours summary (one row per trainee and course) is what a recount of the lesson-progress rows
gives, whatever changed them: the player, an exercise, a lesson's hours, a bulk statement, and two
transactions completing lessons of one trainee at once."""
from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from models import Course, ExerciseQuestion, HoursSummary, Lesson, LessonProgress, db
from services.school.majors import ensure_majors
from services.study import attendance, hours, learning
from tests import factories
from tests.study_util import T0, beat, lesson, player

A, B = "oHoursSummaryA000000000000001", "oHoursSummaryB000000000000001"
QUESTIONS = [("single", "有效期几年？", ["2年", "3年", "4年"], "C")]


def summary() -> set[tuple[int, int, int, int, Decimal]]:
    rows = db.session.execute(select(HoursSummary.trainee_id, HoursSummary.course_id, HoursSummary.lessons_started,
                                     HoursSummary.lessons_completed, HoursSummary.hours_earned))
    return {(t, c, s, n, Decimal(h)) for t, c, s, n, h in rows}


def recounted() -> set[tuple[int, int, int, int, Decimal]]:
    return {(t, c, s, n, Decimal(h)) for t, c, s, n, h in db.session.execute(hours.recount())}


def professional_lesson(app, hours_: float = 5) -> int:
    with app.app_context():
        major = ensure_majors(db.session)["建筑工程"]
        course = Course(kind="professional", major=major, name="建筑工程专业课", hours_required=40)
        course.lessons.append(Lesson(title="建筑第1讲", video_url="https://m/p.mp4", duration_s=300, hours=hours_))
        db.session.add(course)
        db.session.commit()
        return course.lessons[0].id


def watch(app, p, trainee_id: int, openid: str, lesson_id: int, start: float, until: int = 300) -> None:
    """Plays the lesson from 0 to `until`, closes the page there and passes the closing check."""
    tab = p.open_page(trainee_id, openid, lesson_id, start).tab
    for t in range(0, until + 1, 15):
        p.heartbeat(openid, beat(lesson_id, t, tab), start + t)
    check = p.heartbeat(openid, beat(lesson_id, until, tab, "ended"), start + until + 0.5).check
    redis = app.extensions["redis"]
    token = redis.hget(f"wxapp:attend:check:{check.id}", "token").decode()
    found = attendance.by_id(redis, db.session, check.id, start + until + 1)
    assert p.confirm_check(token, found, openid, start + until + 5) == "verified"


def test_the_summary_is_the_recount_after_plays_exercises_and_a_lesson_whose_hours_change(app):
    plain = lesson(app, duration_s=300, hours=2, title="第1讲")
    quiz = lesson(app, duration_s=300, hours=3, title="第2讲", questions=QUESTIONS)
    building = professional_lesson(app)
    a = factories.trainee(app, openid=A)
    b = factories.trainee(app, name="吴二", phone="13912340002", id_card="32058319751212108X", openid=B)
    with app.app_context():
        p = player(app)  # random checks far apart: each play ends with its closing check
        watch(app, p, a, A, plain, T0)  # completed by the player
        watch(app, p, a, A, quiz, T0 + 1000)  # watched; its exercise still to pass
        watch(app, p, b, B, plain, T0 + 2000, until=90)  # left halfway: studying, nothing earned
        watch(app, p, b, B, building, T0 + 3000)
        question = db.session.scalar(select(ExerciseQuestion.id).where(ExerciseQuestion.lesson_id == quiz))
        assert not p.submit_exercise(a, quiz, {question: "A"}, T0 + 1400).passed
        assert summary() == recounted()
        assert p.submit_exercise(a, quiz, {question: "C"}, T0 + 1500).completed
        db.session.get(Lesson, plain).hours = Decimal(4)  # what a catalog import does to a lesson's hours
        db.session.commit()
        public, professional = (db.session.get(Lesson, x).course_id for x in (plain, building))
        assert summary() == recounted() == {
            (a, public, 2, 2, Decimal(7)), (b, public, 1, 0, Decimal(0)), (b, professional, 1, 1, Decimal(5))}
        assert [line.hours_earned for line in learning.courses(db.session, a)] == [Decimal(7), Decimal(0)]
        assert [line.hours_earned for line in learning.courses(db.session, b)] == [Decimal(0), Decimal(5)]


def test_bulk_statements_and_deletes_keep_it_too(app):
    first, second = (lesson(app, hours=h, title=f"第{h}讲") for h in (9, 10))
    a = factories.trainee(app)
    now = datetime.now(UTC)
    with app.app_context():
        db.session.execute(insert(LessonProgress), [
            {"trainee_id": a, "lesson_id": x, "watched": "[]", "credited_seconds": 0, "max_position": 0,
             "position": 0, "completed_at": now} for x in (first, second)])
        db.session.commit()
        assert summary() == recounted() and learning.courses(db.session, a)[0].hours_earned == Decimal(16)  # capped
        db.session.execute(update(Lesson).where(Lesson.id == first).values(hours=1))
        db.session.commit()
        assert summary() == recounted() and learning.courses(db.session, a)[0].hours_earned == Decimal(11)
        db.session.delete(db.session.scalars(select(LessonProgress).where(LessonProgress.lesson_id == first)).one())
        db.session.commit()
        assert summary() == recounted() and {row[2:] for row in summary()} == {(1, 1, Decimal(10))}
        db.session.execute(text("UPDATE lesson_progress SET completed_at = NULL"))  # beside the hooks: not seen
        assert summary() != recounted()
        hours.rebuild(db.session.connection())
        db.session.commit()
        assert summary() == recounted() and {row[2:] for row in summary()} == {(1, 0, Decimal(0))}
        db.session.delete(db.session.get(Lesson, second))  # its progress rows go with it (or lose their lesson)
        db.session.commit()
        assert summary() == recounted() == set()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_transactions_completing_lessons_of_one_trainee_both_count(app):
    first, second = (lesson(app, hours=3, title=f"第{n}讲") for n in (1, 2))
    a = factories.trainee(app)
    with app.app_context():
        engine = db.engine
        now = datetime.now(UTC)
        one = Session(engine)
        one.add(LessonProgress(trainee_id=a, lesson_id=first, watched="[]", credited_seconds=0, max_position=0,
                               position=0, completed_at=now))
        one.flush()  # holds the trainee's lock until it commits

        def other() -> None:
            with Session(engine) as two:
                # It waits for `one` however long a loaded machine takes to notice (the app's 8 s
                # statement timeout once cancelled it in CI before `one` committed).
                two.execute(text("SET LOCAL statement_timeout = 0"))
                two.add(LessonProgress(trainee_id=a, lesson_id=second, watched="[]", credited_seconds=0,
                                       max_position=0, position=0, completed_at=now))
                two.commit()

        thread = threading.Thread(target=other)
        thread.start()
        with engine.connect() as watcher:  # until the other transaction waits for the lock
            for _ in range(500):
                if watcher.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                       "AND datname = current_database()")):
                    break
                watcher.rollback()  # a new snapshot of pg_stat_activity (it is kept for the transaction)
                threading.Event().wait(0.02)
        one.commit()
        one.close()
        thread.join(30)
        assert not thread.is_alive()
        assert summary() == recounted() and {row[2:] for row in summary()} == {(2, 2, Decimal(6))}
