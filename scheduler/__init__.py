"""The scheduler process (`flask --app wsgi scheduler run`): APScheduler, never inside web workers.

APScheduler knows nothing of other processes, so exactly one process leads: the holder of a
Redis lock with a short TTL, renewed while it runs. Any other `scheduler run` waits idle and
takes over when the leader's lock lapses; a leader that can't renew stops its jobs first.
Jobs live in the database (`SQLAlchemyJobStore`, table `apscheduler_jobs`, left out of the
Alembic migrations) under fixed ids, so a restart keeps each job's next run time, and a run
missed while no scheduler was up still happens if it is late by less than its grace time.

The scheduler outlives the database. It leads only while the database answers (a probe with a
time limit, `scheduler.database`): while it is down or hung the process waits idle, probing with
a growing backoff, and logs `scheduler_database_unreachable`; once it answers again the process
logs `scheduler_database_back` and takes the lead again (`scheduler_leading`). A leader that loses
the database stops its jobs and gives up the lead the same way. A run that failed on a lost
connection runs again soon after (`scheduler.retries`).
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import redis as redis_lib
from apscheduler.events import EVENT_JOB_ERROR
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from scheduler import database, jobs
from scheduler.retries import JobRetries
from services import keys
from services.logfmt import kv
from services.timeutil import SHANGHAI

log = logging.getLogger(__name__)

# A follower looks every third of it: a dead leader's successor leads 10-20 s after its last renewal.
LEADER_TTL_S = 15
# How often the leader looks for a nudge (a notice queued by staff).
NUDGE_POLL_S = 1.0
# A shutdown waits this long for the runs under way (a dispatch stops claiming within seconds).
SHUTDOWN_WAIT_S = 30


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: str
    trigger: BaseTrigger
    # How late a run may still start (after a restart or a busy spell); later, it is skipped.
    misfire_grace_s: int


def job_specs() -> list[JobSpec]:
    return [
        # Late by more than a run's gap: the next run comes soon anyway.
        JobSpec("dispatch_outbox", "scheduler.jobs:dispatch_outbox",
                IntervalTrigger(seconds=jobs.DISPATCH_INTERVAL_S, timezone=SHANGHAI), jobs.DISPATCH_INTERVAL_S),
        # WeChat's `success` reports on template messages, queued by the callback.
        JobSpec("record_job_reports", "scheduler.jobs:record_job_reports",
                IntervalTrigger(seconds=jobs.JOB_REPORTS_INTERVAL_S, timezone=SHANGHAI), jobs.JOB_REPORTS_INTERVAL_S),
        # 09:00 the day before a class starts; hourly until 20:00 so a class created or moved
        # later that day still gets its reminder, in daytime. A late run still counts within its hour.
        JobSpec("remind_class_starts", "scheduler.jobs:remind_class_starts",
                CronTrigger(hour="9-20", minute=0, timezone=SHANGHAI), 50 * 60),
        # Mondays 09:30; a scheduler down then still sends it until 17:30, never at night.
        JobSpec("remind_registration_expiry", "scheduler.jobs:remind_registration_expiry",
                CronTrigger(day_of_week="mon", hour=9, minute=30, timezone=SHANGHAI), 8 * 3600),
        # 学时已修满，可以参加考试: within a minute of a major's hours becoming complete.
        JobSpec("tell_hours_complete", "scheduler.jobs:tell_hours_complete",
                IntervalTrigger(seconds=jobs.HOURS_INTERVAL_S, timezone=SHANGHAI), jobs.HOURS_INTERVAL_S),
        # Grades the exam attempts left open past their deadline (a closed page, a dead phone).
        JobSpec("settle_exam_deadlines", "scheduler.jobs:settle_exam_deadlines",
                IntervalTrigger(seconds=jobs.SETTLE_INTERVAL_S, timezone=SHANGHAI), jobs.SETTLE_INTERVAL_S),
        # Texts of unknown fate, looked up at the SMS provider (a late run is as good as any).
        JobSpec("settle_unknown_texts", "scheduler.jobs:settle_unknown_texts",
                IntervalTrigger(seconds=jobs.SETTLE_TEXTS_INTERVAL_S, timezone=SHANGHAI), jobs.SETTLE_TEXTS_INTERVAL_S),
        # Nightly 03:00, when nobody reads the chat; a scheduler down then still syncs until 06:00.
        JobSpec("sync_followers", "scheduler.jobs:sync_followers",
                CronTrigger(hour=3, minute=0, timezone=SHANGHAI), 3 * 3600),
        # Face comparison of new exam photos, within a minute of their upload (CONTRACT §7).
        JobSpec("analyse_exam_faces", "scheduler.jobs:analyse_exam_faces",
                IntervalTrigger(seconds=jobs.FACES_INTERVAL_S, timezone=SHANGHAI), jobs.FACES_INTERVAL_S),
        # Nightly 04:00: exam photos (and their face embeddings) past PHOTO_RETENTION_DAYS.
        JobSpec("purge_exam_photos", "scheduler.jobs:purge_exam_photos",
                CronTrigger(hour=4, minute=0, timezone=SHANGHAI), 3 * 3600),
    ]


class GuardedScheduler(BackgroundScheduler):
    """APScheduler's loop survives a job store error while it looks for due jobs, but not one while
    it stores a job's next run (the database went away in between): that ends its thread and every
    job with it, silently. Here such an error is logged and the jobs are looked at again soon."""

    def _process_jobs(self):
        try:
            return super()._process_jobs()
        except Exception as exc:  # the job store's database; anything else would kill the loop as well
            log.warning(kv("scheduler_job_store_error", error=type(exc).__name__))
            return self.jobstore_retry_interval


def build_scheduler(app: Flask) -> BackgroundScheduler:
    return GuardedScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=database.job_store_engine(_database_url(app)))},
        executors={"default": ThreadPoolExecutor(4)},
        # coalesce: runs missed in a row run once, not once each; max_instances: never overlap.
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=SHANGHAI,
    )


def _database_url(app: Flask) -> str:
    from models import db

    with app.app_context():
        return db.engine.url.render_as_string(hide_password=False)


def sync_jobs(scheduler: BackgroundScheduler) -> None:
    """Adds or updates the jobs; a job whose definition is unchanged keeps its stored next run."""
    for spec in job_specs():
        job = scheduler.get_job(spec.id)
        if job is not None and job.func_ref == spec.func and str(job.trigger) == str(spec.trigger) \
                and job.misfire_grace_time == spec.misfire_grace_s:
            continue
        scheduler.add_job(spec.func, spec.trigger, id=spec.id, name=spec.id, replace_existing=True,
                          misfire_grace_time=spec.misfire_grace_s)


class Leadership:
    """The Redis lock that makes one scheduler process the leader."""

    def __init__(self, redis: redis_lib.Redis, ttl_s: float = LEADER_TTL_S):
        self._lock = redis.lock(keys.scheduler_leader(), timeout=ttl_s)

    def acquire(self) -> bool:
        try:
            return bool(self._lock.acquire(blocking=False))
        except redis_lib.RedisError as exc:
            log.warning(kv("scheduler_lock_unavailable", error=type(exc).__name__))
            return False

    def renew(self) -> bool:
        try:
            self._lock.reacquire()
            return True
        except (redis_lib.RedisError, redis_lib.exceptions.LockError) as exc:
            log.warning(kv("scheduler_lock_lost", error=type(exc).__name__))
            return False

    def release(self) -> None:
        try:
            self._lock.release()
        except (redis_lib.RedisError, redis_lib.exceptions.LockError):
            pass  # not held, or Redis gone: it lapses by itself


def run(app: Flask, stop: threading.Event, ttl_s: float = LEADER_TTL_S,
        on_change: Callable[[bool], None] | None = None) -> None:
    """Leads when it can, waits idle when another process leads or while the database is away,
    until `stop` is set."""
    jobs.bind(app)
    leadership = Leadership(app.extensions["redis"], ttl_s)
    watch = database.DatabaseWatch(_database_url(app))
    retries = JobRetries({spec.id: spec.misfire_grace_s for spec in job_specs()})
    scheduler: BackgroundScheduler | None = None
    try:
        while not stop.is_set():
            pause = ttl_s / 3
            if scheduler is None:
                if not watch.reachable():
                    pause = watch.backoff_s()
                elif leadership.acquire():
                    scheduler = _lead(app, watch, leadership, retries)
                    if scheduler is None:
                        pause = watch.backoff_s()
                    else:
                        _tell(on_change, True)
            elif not leadership.renew():
                _shut_down(scheduler)
                scheduler = None
                _tell(on_change, False)
            elif not watch.reachable():
                # Its jobs would only fail: let go of the lead, wait for the database, lead again.
                _shut_down(scheduler, database.PROBE_TIMEOUT_S)
                leadership.release()
                scheduler = None
                _tell(on_change, False)
                pause = watch.backoff_s()
            else:
                retries.apply(scheduler, datetime.now(SHANGHAI))
            if scheduler is None:
                stop.wait(pause)
            else:
                _lead_for(pause, stop, scheduler, app.extensions["redis"])
    finally:
        if scheduler is not None:
            _shut_down(scheduler)
            leadership.release()
            _tell(on_change, False)
        watch.close()


def _lead_for(seconds: float, stop: threading.Event, scheduler: BackgroundScheduler, redis: redis_lib.Redis) -> None:
    """Waits `seconds` as the leader, starting a dispatch run at once when staff queued a notice
    (`NoticeDesk.nudge`) and none is under way: the push begins within a second, not up to
    DISPATCH_INTERVAL_S later."""
    until = time.monotonic() + seconds
    while not stop.wait(min(NUDGE_POLL_S, max(until - time.monotonic(), 0))):
        if time.monotonic() >= until:
            return
        try:
            nudged = redis.getdel(keys.outbox_nudge())
        except redis_lib.RedisError:
            continue  # the lock's renewal says what to do about Redis
        if nudged and not jobs.dispatching.is_set():
            try:
                scheduler.modify_job("dispatch_outbox", next_run_time=datetime.now(SHANGHAI))
                log.info(kv("outbox_nudged"))
            except Exception as exc:  # the job store's database: the run comes at its time anyway
                log.warning(kv("outbox_nudge_failed", error=type(exc).__name__))


def _lead(app: Flask, watch: database.DatabaseWatch, leadership: Leadership,
          retries: JobRetries) -> BackgroundScheduler | None:
    """Starts the jobs; None (the lead given back) when the database fails on the way."""
    try:
        jobs.take_over()
        return _start(app, retries)
    except Exception as exc:  # the job store reads and writes the database while it starts
        watch.lost(type(exc).__name__)
        leadership.release()
        return None


def _start(app: Flask, retries: JobRetries) -> BackgroundScheduler:
    scheduler = build_scheduler(app)
    try:
        scheduler.start(paused=True)
        sync_jobs(scheduler)
    except BaseException:
        _shut_down(scheduler)
        raise
    scheduler.add_listener(retries.listener, EVENT_JOB_ERROR)
    scheduler.resume()
    log.info(kv("scheduler_leading", jobs=",".join(job.id for job in scheduler.get_jobs())))
    return scheduler


def _shut_down(scheduler: BackgroundScheduler, wait_s: float = SHUTDOWN_WAIT_S) -> None:
    """Stops the jobs; waits for the runs under way, unless they hang on a hung database: the
    shutdown then goes on in the background and this process moves on."""
    if scheduler.state == STATE_STOPPED:
        return
    closing = threading.Thread(target=scheduler.shutdown, name="scheduler-shutdown", daemon=True)
    closing.start()
    closing.join(wait_s)
    if closing.is_alive():
        log.warning(kv("scheduler_shutdown_unfinished", waited_s=wait_s))


def _tell(on_change: Callable[[bool], None] | None, leading: bool) -> None:
    if not leading:
        log.info(kv("scheduler_idle"))
    if on_change is not None:
        on_change(leading)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (call from the main thread)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop
