"""A job run that failed on the database runs again soon (within its grace time), not at its next
regular time: an hour later for the class reminders, a week later for the expiry reminder."""
from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import IntegrityError, OperationalError

from scheduler.retries import RETRY_AFTER_S, JobRetries, on_database
from services.timeutil import SHANGHAI

NOW = datetime.now(SHANGHAI)


def lost_connection() -> OperationalError:
    return OperationalError("SELECT 1", {}, psycopg.OperationalError("server closed the connection unexpectedly"))


def failed(job_id: str, at: datetime, exc: BaseException) -> JobExecutionEvent:
    return JobExecutionEvent(EVENT_JOB_ERROR, job_id, "default", at, exception=exc)


def noop() -> None:
    pass


def test_only_database_connection_failures_count():
    assert on_database(lost_connection())
    wrapped = RuntimeError("job failed")
    wrapped.__cause__ = lost_connection()
    assert on_database(wrapped)
    assert not on_database(IntegrityError("INSERT", {}, Exception("duplicate")))
    assert not on_database(ValueError("a bug"))


def test_a_weekly_job_failed_on_the_database_runs_again_soon_within_its_grace():
    retries = JobRetries({"weekly": 8 * 3600})
    scheduler = BackgroundScheduler(timezone=SHANGHAI)
    scheduler.start(paused=True)
    try:
        scheduler.add_job(noop, "interval", weeks=1, id="weekly")  # next regular run: a week from now
        ran = NOW - timedelta(hours=2)  # the run failed two hours ago; the database answers again now
        retries.listener(failed("weekly", ran, lost_connection()))
        retries.listener(failed("other", ran, ValueError("a bug")))
        assert retries.pending() == ["weekly"]

        back = NOW
        retries.apply(scheduler, back)

        assert scheduler.get_job("weekly").next_run_time == back + timedelta(seconds=RETRY_AFTER_S)
        assert retries.pending() == []
    finally:
        scheduler.shutdown(wait=False)


def test_a_retry_past_the_jobs_grace_is_dropped():
    retries = JobRetries({"weekly": 8 * 3600})
    scheduler = BackgroundScheduler(timezone=SHANGHAI)
    scheduler.start(paused=True)
    try:
        job = scheduler.add_job(noop, "interval", weeks=1, id="weekly")
        regular = job.next_run_time
        # Failed nine hours ago: its 8-hour grace is over (a reminder is not sent at night).
        retries.listener(failed("weekly", NOW - timedelta(hours=9), lost_connection()))
        retries.apply(scheduler, NOW)

        assert scheduler.get_job("weekly").next_run_time == regular and retries.pending() == []
    finally:
        scheduler.shutdown(wait=False)
