"""`flask --app wsgi scheduler run` outlives its database: PostgreSQL down as it starts, stopped and
started again while it leads, hung (SIGSTOP). Each time the process stays up, says in its log
that it waits for the database, takes the lead again when the database is back, and dispatches the
notices written after.

The process is real, over the fault suite's own PostgreSQL cluster and Redis."""
from __future__ import annotations

import time

import pytest
import redis as redis_lib
from sqlalchemy import select

from models import OutboxMessage, db
from services import keys
from tests import factories
from tests.conftest import base_settings
from tests.notify_util import class_with_trainees
from tests.scheduler.test_scheduler_process import Scheduler

UNREACHABLE = "scheduler_database_unreachable"
BACK = "scheduler_database_back"
LEADING = "scheduler_leading"


@pytest.fixture
def scheduler_env(fault_app, servers, fake_wechat, tmp_path):
    """What a `scheduler run` process over the fault suite's servers is started with."""
    own_redis, own_postgres = servers
    settings = base_settings(own_postgres.url, own_redis.url, str(tmp_path / "instance"))
    settings.update(WECHAT_API_BASE=fake_wechat.base_url, LOG_LEVEL="INFO")
    return settings


@pytest.fixture
def run_scheduler(scheduler_env):
    started: list[Scheduler] = []

    def start() -> Scheduler:
        process = Scheduler(scheduler_env)
        started.append(process)
        process.wait_started()
        return process

    yield start
    for process in started:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait(10)


def wait_for(condition, what: str, process: Scheduler, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.process.poll() is None, f"the scheduler exited while waiting for {what}:\n" + "".join(
            process.lines)
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n" + "".join(process.lines)
        time.sleep(0.2)


def said(process: Scheduler, event: str, times: int = 1) -> bool:
    return sum(event in line for line in process.lines) >= times


def write_notice(app, code: str, first: int) -> int:
    """A class of two trainees (texts: no WeChat template configured) and its class-open notice;
    returns the notice's id. Nothing is sent here: the scheduler's dispatch does that."""
    if first != 1:  # the first class is made by class_with_trainees itself
        factories.training_class(app, code=code, name=f"{code} 班")
    class_with_trainees(app, bound=0, unbound=2, code=code, first=first)
    with app.app_context():
        return app.extensions["notice_desk"].class_open(code, "test").id


def sent(app, notice_id: int) -> bool:
    try:
        with app.app_context():
            states = db.session.scalars(select(OutboxMessage.state)
                                        .where(OutboxMessage.notice_id == notice_id)).all()
            db.session.rollback()
    except Exception:  # noqa: BLE001 (the database may still be coming back)
        return False
    return bool(states) and set(states) == {"sent"}


def drop_pool(app) -> None:
    """The test's own connections died with the server (the scheduler's are its own business)."""
    with app.app_context():
        db.engine.dispose()


def stop(process: Scheduler) -> None:
    process.stop()
    output = process.output(timeout=60)
    assert process.process.returncode == 0, output


def test_scheduler_started_while_postgres_is_down_waits_and_leads_once_it_is_back(fault_app, servers,
                                                                                  run_scheduler):
    own_redis, own_postgres = servers
    notice = write_notice(fault_app, "FAULT-A", first=1)
    own_postgres.stop()

    process = run_scheduler()
    wait_for(lambda: said(process, UNREACHABLE), "the log to say the database is unreachable", process)
    time.sleep(3)  # several probes later: still waiting, not exited
    assert process.process.poll() is None and not said(process, LEADING)

    own_postgres.start()
    wait_for(lambda: sent(fault_app, notice), "the notice to be dispatched", process)
    assert said(process, BACK) and said(process, LEADING)
    assert redis_lib.Redis.from_url(own_redis.url).get(keys.dispatch_last_run()) is not None
    stop(process)


def test_scheduler_survives_postgres_stopped_and_started_and_dispatches_after(fault_app, servers, run_scheduler):
    _, own_postgres = servers
    first = write_notice(fault_app, "FAULT-B", first=1)
    process = run_scheduler()
    wait_for(lambda: sent(fault_app, first), "the first notice", process)

    own_postgres.stop()
    wait_for(lambda: said(process, UNREACHABLE), "the log to say the database is unreachable", process)
    time.sleep(3)
    assert process.process.poll() is None
    own_postgres.start()
    drop_pool(fault_app)

    later = write_notice(fault_app, "FAULT-C", first=3)
    wait_for(lambda: sent(fault_app, later), "the notice written after the restart", process)
    assert said(process, BACK) and said(process, LEADING, times=2)
    stop(process)


def test_scheduler_survives_postgres_hung_and_dispatches_once_it_answers(fault_app, servers, run_scheduler):
    _, own_postgres = servers
    first = write_notice(fault_app, "FAULT-D", first=1)
    process = run_scheduler()
    wait_for(lambda: sent(fault_app, first), "the first notice", process)

    own_postgres.hang()
    try:
        wait_for(lambda: said(process, UNREACHABLE), "the log to say the database is unreachable", process)
        time.sleep(3)
        assert process.process.poll() is None
    finally:
        own_postgres.resume()

    later = write_notice(fault_app, "FAULT-E", first=3)
    wait_for(lambda: sent(fault_app, later), "the notice written after the database answered again", process)
    assert said(process, BACK) and said(process, LEADING, times=2)
    stop(process)
