"""The scheduler process (`flask --app wsgi scheduler run`): APScheduler, never inside web workers.

APScheduler knows nothing of other processes, so exactly one process leads: the holder of a
Redis lock with a short TTL, renewed while it runs. Any other `scheduler run` waits idle and
takes over when the leader's lock lapses; a leader that can't renew stops its jobs first.
Jobs live in the database (`SQLAlchemyJobStore`, table `apscheduler_jobs`, left out of the
Alembic migrations) under fixed ids, so a restart keeps each job's next run time, and a run
missed while no scheduler was up still happens if it is late by less than its grace time.
"""
from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

import redis as redis_lib
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from scheduler import jobs
from services import keys
from services.logfmt import kv
from services.timeutil import SHANGHAI

log = logging.getLogger(__name__)

LEADER_TTL_S = 30


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


def build_scheduler(app: Flask) -> BackgroundScheduler:
    from models import db

    with app.app_context():
        engine = db.engine
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine)},
        executors={"default": ThreadPoolExecutor(4)},
        # coalesce: runs missed in a row run once, not once each; max_instances: never overlap.
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=SHANGHAI,
    )


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
    """Leads when it can, waits idle when another process leads, until `stop` is set."""
    jobs.bind(app)
    leadership = Leadership(app.extensions["redis"], ttl_s)
    scheduler: BackgroundScheduler | None = None
    try:
        while not stop.is_set():
            if scheduler is None and leadership.acquire():
                scheduler = _start(app)
                _tell(on_change, True)
            elif scheduler is not None and not leadership.renew():
                scheduler.shutdown(wait=True)
                scheduler = None
                _tell(on_change, False)
            stop.wait(ttl_s / 3)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=True)
            leadership.release()
            _tell(on_change, False)


def _start(app: Flask) -> BackgroundScheduler:
    scheduler = build_scheduler(app)
    scheduler.start(paused=True)
    sync_jobs(scheduler)
    scheduler.resume()
    log.info(kv("scheduler_leading", jobs=",".join(job.id for job in scheduler.get_jobs())))
    return scheduler


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
