"""Fixtures of the fault suite: the app over its own Redis and PostgreSQL, which tests stop,
restart and hang (SIGSTOP). Skipped where no redis-server or PostgreSQL binaries are installed."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import text

from models import db
from tests.conftest import base_settings
from tests.faults.servers import RedisServer
from tests.pgtemp import PrivateCluster, pg_bin
from wxapp import create_app


@pytest.fixture(scope="session")
def own_redis():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def own_postgres():
    bin_dir = pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries are not installed (set WXAPP_PG_BIN)")
    server = PrivateCluster(bin_dir).start()
    server.create_database()
    yield server
    server.destroy()


@pytest.fixture
def servers(own_redis, own_postgres):
    """Both servers up at the start and at the end of every test, whatever the test did to them."""
    own_redis.resume()
    if own_redis.process is None:
        own_redis.start()
    yield own_redis, own_postgres
    own_redis.resume()
    if own_redis.process is None:
        own_redis.start()
    own_postgres.resume()
    try:
        own_postgres.start()
    except Exception:  # noqa: BLE001 (already running)
        pass


_schema_made: set[int] = set()


@pytest.fixture
def fault_app(servers, fake_wechat, tmp_path):
    """The app over the fault suite's own servers; checks due after one second of playing."""
    own_redis, own_postgres = servers
    settings = base_settings(own_postgres.url, own_redis.url, str(tmp_path / "instance"))
    settings.update(WECHAT_API_BASE=fake_wechat.base_url, ATTENDANCE_INTERVAL_MIN_S="1",
                    ATTENDANCE_INTERVAL_MAX_S="1", ATTENDANCE_TTL_S="60", SCHOOL_PHONE="0512-68888888")
    app = create_app(settings)
    with app.app_context():
        if own_postgres.port not in _schema_made:
            db.drop_all()
            db.create_all()
            _schema_made.add(own_postgres.port)
        tables = ", ".join(t.name for t in db.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    app.extensions["redis"].flushdb()
    yield app
    with app.app_context():
        db.engine.dispose()
