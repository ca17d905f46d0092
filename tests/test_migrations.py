"""The Alembic migrations build, on an empty SQLite and an empty PostgreSQL, exactly the models' schema."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from models import db
from tests.conftest import base_settings
from tests.pgtemp import throwaway_database
from wxapp import create_app


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    with throwaway_database("wxapp_mig") as url:
        yield url


def test_migrations_upgrade_empty_database_to_the_models_schema(empty_database, redis_url, tmp_path):
    app = create_app(base_settings(empty_database, redis_url, str(tmp_path / "instance")))
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        assert diffs == []
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_lesson_retired_at_upgrades_existing_lessons_as_active_and_downgrades_keeping_them(
        empty_database, redis_url, tmp_path):
    app = create_app(base_settings(empty_database, redis_url, str(tmp_path / "instance")))
    with app.app_context():
        upgrade(revision="0009")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO courses (id, kind, name, hours_required) VALUES (1, 'public', '公共课程', 16)"))
            conn.execute(text("INSERT INTO lessons (id, course_id, title, video_url, duration_s, hours, position) "
                              "VALUES (1, 1, '第1讲', 'https://media.example.com/1.mp4', 60, 2, 1)"))
        assert "retired_at" not in {c["name"] for c in inspect(db.engine).get_columns("lessons")}
        upgrade(revision="0010_lesson_retired_at")
        with db.engine.begin() as conn:
            assert conn.execute(text("SELECT id, retired_at FROM lessons")).all() == [(1, None)]
            conn.execute(text("UPDATE lessons SET retired_at = CURRENT_TIMESTAMP"))
        downgrade(revision="0009")
        assert "retired_at" not in {c["name"] for c in inspect(db.engine).get_columns("lessons")}
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT id, title FROM lessons")).all() == [(1, "第1讲")]
        downgrade(revision="base")
        db.engine.dispose()
