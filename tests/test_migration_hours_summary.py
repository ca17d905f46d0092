"""Migration 0011 creates the hours summary and fills it from the lesson progress already there: on
SQLite and PostgreSQL, what it writes is the recount the app keeps."""
from __future__ import annotations

from decimal import Decimal

from flask_migrate import upgrade
from sqlalchemy import text

from models import db
from services.study import hours
from tests.conftest import base_settings
from tests.test_migrations import empty_database  # noqa: F401  (the fixture)
from wxapp import create_app

# Columns as of revision 0009, written by hand: the models may hold later columns.
ROWS = [
    "INSERT INTO trainees (id, name, phone, company, id_card_hash, id_card_enc, id_card_mask, is_demo, created_at,"
    " updated_at) VALUES (1, '甲', '13900000001', '', 'h1', 'e1', 'm1', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),"
    " (2, '乙', '13900000002', '', 'h2', 'e2', 'm2', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    "INSERT INTO courses (id, kind, major_id, name, hours_required) VALUES (1, 'public', NULL, '公共课程', 16)",
    "INSERT INTO lessons (id, course_id, title, video_url, duration_s, hours, position) VALUES"
    " (1, 1, '第1讲', 'https://m/1.mp4', 60, 2.5, 1), (2, 1, '第2讲', 'https://m/2.mp4', 60, 3, 2)",
    "INSERT INTO lesson_progress (trainee_id, lesson_id, watched, credited_seconds, max_position, position,"
    " completed_at, updated_at) VALUES (1, 1, '[]', 60, 60, 60, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),"
    " (1, 2, '[]', 60, 60, 60, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),"
    " (2, 2, '[[0,30]]', 30, 30, 30, NULL, CURRENT_TIMESTAMP)",
]


def test_the_summary_is_filled_from_the_progress_already_there(empty_database, redis_url, tmp_path):  # noqa: F811
    app = create_app(base_settings(empty_database, redis_url, str(tmp_path / "instance")))
    with app.app_context():
        upgrade(revision="0009")
        with db.engine.begin() as conn:
            for statement in ROWS:
                conn.execute(text(statement))
        upgrade()
        rows = db.session.execute(text(
            "SELECT trainee_id, course_id, lessons_started, lessons_completed, hours_earned FROM hours_summary"))
        summary = {(t, c, s, n, Decimal(str(h))) for t, c, s, n, h in rows}
        assert summary == {(t, c, s, n, Decimal(str(h))) for t, c, s, n, h in db.session.execute(hours.recount())}
        assert summary == {(1, 1, 2, 2, Decimal("5.5")), (2, 1, 1, 0, Decimal(0))}
        db.session.remove()
        db.engine.dispose()
