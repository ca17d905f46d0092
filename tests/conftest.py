"""Fixtures: a real Redis database per worker and real SQLite and PostgreSQL databases.

Every test that takes `app` runs once on SQLite and once on PostgreSQL. The schema is created
once per backend and session; each test starts from empty tables and an empty Redis database.
"""
from __future__ import annotations

import os

import pytest
import redis as redis_lib
from sqlalchemy import text

from models import db
from tests.pgtemp import throwaway_database
from wxapp import create_app

REDIS_BASE = os.environ.get("WXAPP_TEST_REDIS", "redis://127.0.0.1:6379")
# A 32+ character PII key fixed for the tests; production takes it from the environment.
TEST_PII_KEY = "test-pii-key-0123456789-abcdefghijklmnop"
TEST_TOKEN = "test-token"
TEST_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TEST_APPID = "wx2c2769f8efd9abc2"

for _proxy in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_proxy, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker.startswith("gw") else 0


@pytest.fixture(scope="session")
def redis_url() -> str:
    # Databases 8..15 belong to the tests; 0 stays for development. WXAPP_TEST_REDIS_DB pins one,
    # so that two test runs on one machine (two developers' sessions) don't flush each other.
    pinned = os.environ.get("WXAPP_TEST_REDIS_DB")
    return f"{REDIS_BASE}/{pinned if pinned else 8 + _worker_index() % 8}"


@pytest.fixture(scope="session")
def postgres_url():
    with throwaway_database("wxapp_test") as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def base_settings(database_url: str, redis_url: str, instance: str) -> dict:
    return {
        "WXAPP_ENV": "testing",
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "PII_KEY": TEST_PII_KEY,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PUBLIC_BASE_URL": "https://wx.example.test",
        "WECHAT_TOKEN": TEST_TOKEN,
        "WECHAT_APPID": TEST_APPID,
        "WECHAT_SECRET": "test-secret",
        # Nothing listens on port 9: an unplanned call to WeChat fails at once.
        "WECHAT_API_BASE": "http://127.0.0.1:9/",
        "WXAPP_INSTANCE": instance,
    }


_schema_ready: set[str] = set()


def _reset_database(app) -> None:
    with app.app_context():
        engine = db.engine
        if engine.url.drivername not in _schema_ready:
            db.drop_all()
            db.create_all()
            _schema_ready.add(engine.url.drivername)
        tables = [t.name for t in db.metadata.sorted_tables]
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for name in reversed(tables):
                    conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, sqlite_url):
    if request.param == "sqlite":
        return sqlite_url
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def make_app(database_url, redis_url, tmp_path):
    """Builds an app on the current backend; keyword arguments override settings."""
    redis_lib.Redis.from_url(redis_url).flushdb()
    apps = []

    def factory(**overrides):
        settings = base_settings(database_url, redis_url, str(tmp_path / "instance"))
        settings.update({k: str(v) for k, v in overrides.items()})
        app = create_app(settings)
        if not apps:
            _reset_database(app)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def redis(app):
    return app.extensions["redis"]


@pytest.fixture
def fake_wechat():
    """A fake WeChat API on loopback; build apps with make_app(WECHAT_API_BASE=fake_wechat.base_url)."""
    from tests.fakewechat import FakeWeChat

    fake = FakeWeChat().start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _plain_redis_key_prefix():
    """An app built for development sets this process's Redis key prefix (services/keys.py, one per
    instance/): the next test starts from the plain one, whatever it builds."""
    yield
    from services import keys

    keys.use_prefix("wxapp")
