"""Lessons, exercises and a player driven by an explicit clock, for the study tests."""
from __future__ import annotations

import json
import random

from models import Course, ExerciseQuestion, Lesson, db
from services.school.majors import ensure_majors
from services.study.player import Beat, Player, Settings

T0 = 1_800_000_000.0  # any fixed moment: tests drive the clock


def lesson(app, duration_s: int = 100, hours: float = 2, questions: list[tuple] = (), title: str = "第1讲 法规",
           video_url: str = "https://media.example.com/1.mp4") -> int:
    """A 公共课 lesson (the course is created once); `questions`: (kind, stem, options, answer)."""
    with app.app_context():
        ensure_majors(db.session)
        course = db.session.query(Course).filter_by(kind="public").one_or_none()
        if course is None:
            course = Course(kind="public", name="公共课程", hours_required=16)
            db.session.add(course)
        item = Lesson(title=title, video_url=video_url, duration_s=duration_s, hours=hours,
                      position=len(course.lessons) + 1)
        course.lessons.append(item)
        db.session.flush()
        for position, (kind, stem, options, answer) in enumerate(questions, start=1):
            db.session.add(ExerciseQuestion(lesson_id=item.id, position=position, kind=kind, stem=stem,
                                            options=json.dumps(options, ensure_ascii=False), answer=answer))
        db.session.commit()
        return item.id


def settings(interval_min_s: float = 600, interval_max_s: float = 1800, check_ttl_s: int = 180,
             heartbeat_s: float = 15) -> Settings:
    return Settings(interval_min_s, interval_max_s, check_ttl_s, heartbeat_s)


def player(app, seed: int = 1, **overrides) -> Player:
    """A Player over the app's Redis and session; call inside an app context."""
    return Player(app.extensions["redis"], db.session, settings(**overrides), rng=random.Random(seed))


def beat(lesson_id: int, position: float, tab: str, state: str = "playing") -> Beat:
    return Beat(lesson_id, float(position), tab, state)
