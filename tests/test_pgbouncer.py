"""A DATABASE_URL through PgBouncer in transaction mode (CONTRACT §10): several workers' connections
share a few server connections, transaction by transaction, and nothing breaks."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, text

from models import Trainee, db
from tests import factories
from tests.conftest import base_settings
from tests.notify_util import id_card
from tests.pgtemp import PgBouncer, throwaway_database
from wxapp import create_app

pytestmark = pytest.mark.skipif(PgBouncer.binary() is None and not os.environ.get("WXAPP_REQUIRE_BROWSER"),
                                reason="pgbouncer is not installed (.ci/run installs it)")
THREADS, ROUNDS = 8, 40


@pytest.fixture
def bouncer():
    with throwaway_database("wxapp_bouncer") as direct_url:
        proxy = PgBouncer(pool_size=2).start()
        try:
            yield proxy, direct_url.rsplit("/", 1)[1]
        finally:
            proxy.stop()


def test_the_app_works_through_pgbouncer_in_transaction_mode(bouncer, redis_url, tmp_path):
    proxy, database = bouncer
    settings = base_settings(proxy.url(database), redis_url, str(tmp_path / "instance"))
    app = create_app({**settings, "DATABASE_PGBOUNCER": "1", "SQLALCHEMY_POOL_SIZE": "8"})
    with app.app_context():
        db.create_all()  # a database of its own: the suite's schema-once bookkeeping doesn't apply
    for n in range(THREADS):
        factories.trainee(app, name=f"学员{n}", phone=f"1391234{n:04d}", id_card=id_card(n))

    def reads(n: int) -> int:
        # The same statements again and again on one pooled connection: psycopg would prepare them
        # after five uses, and the next transaction would meet a server connection without them.
        found = 0
        with app.app_context():
            for _ in range(ROUNDS):
                found += len(db.session.scalars(select(Trainee).where(Trainee.phone == f"1391234{n:04d}")).all())
                db.session.execute(text("SELECT pg_sleep(0.001)"))
                db.session.commit()
        return found

    with ThreadPoolExecutor(THREADS) as pool:
        assert list(pool.map(reads, range(THREADS))) == [ROUNDS] * THREADS
    with app.app_context():
        servers = db.session.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"),
                                     {"d": database}).scalar_one()
        assert servers <= 2  # PgBouncer's pool, whatever the app's
        db.engine.dispose()


def test_the_scheduler_job_store_works_through_pgbouncer_in_transaction_mode(bouncer):
    """The job store's own engine (scheduler/database.py) prepares no statements either: the term
    rehearsal saw `prepared statement "_pg3_3" does not exist` from it every minute or so."""
    from scheduler.database import job_store_engine

    proxy, database = bouncer
    engine = job_store_engine(proxy.url(database))

    def reads(n: int) -> int:
        found = 0
        for _ in range(ROUNDS):
            with engine.connect() as conn:
                found += conn.execute(text("SELECT count(*) FROM pg_class WHERE relpages >= :n"), {"n": n}).scalar_one() >= 0
                conn.execute(text("SELECT pg_sleep(0.001)"))
                conn.commit()
        return found

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            assert list(pool.map(reads, range(THREADS))) == [ROUNDS] * THREADS
    finally:
        engine.dispose()
