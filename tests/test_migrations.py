"""The Alembic migrations build, on an empty SQLite and an empty PostgreSQL, exactly the models' schema."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

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
