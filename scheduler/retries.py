"""Runs of jobs that failed on the database, run again soon rather than at their next regular time.

A lost connection fails the run under way; the dispatch and the deadline grading come back within
a minute anyway, but the hourly class reminders and the weekly expiry reminder would wait an hour
or a week. So a run that failed on the database is put forward to RETRY_AFTER_S from when the
scheduler next finds the database answering, as long as that is still within the job's grace
time (a reminder is never sent at night because the database was away all day).
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from apscheduler.events import JobExecutionEvent
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from services.logfmt import kv

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5


def on_database(exc: BaseException | None) -> bool:
    """Whether a job failed because the database could not be reached or dropped the connection."""
    while exc is not None:
        if isinstance(exc, (OperationalError, InterfaceError)) or (
                isinstance(exc, DBAPIError) and exc.connection_invalidated):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class JobRetries:
    """Kept by the process, not by one scheduler: a retry outlives the scheduler torn down while
    the database was away."""

    def __init__(self, grace_s: dict[str, int]):
        self._grace_s = grace_s
        self._until: dict[str, datetime] = {}  # job id -> the latest a retry may start
        self._lock = threading.Lock()

    def listener(self, event: JobExecutionEvent) -> None:
        """APScheduler's EVENT_JOB_ERROR listener (a job thread)."""
        if not on_database(event.exception):
            return
        until = event.scheduled_run_time + timedelta(seconds=self._grace_s.get(event.job_id, 0))
        log.warning(kv("scheduler_job_failed_on_database", job=event.job_id, error=type(event.exception).__name__,
                       retry_until=until.isoformat()))
        with self._lock:
            self._until[event.job_id] = until

    def pending(self) -> list[str]:
        with self._lock:
            return sorted(self._until)

    def apply(self, scheduler: BaseScheduler, now: datetime) -> None:
        """Puts each failed job's next run forward (the job store is written: the database answers)."""
        with self._lock:
            waiting = dict(self._until)
        for job_id, until in waiting.items():
            at = now + timedelta(seconds=RETRY_AFTER_S)
            if at <= until:
                try:
                    job = scheduler.get_job(job_id)
                    if job is not None and (job.next_run_time is None or job.next_run_time > at):
                        scheduler.modify_job(job_id, next_run_time=at)
                        log.info(kv("scheduler_job_retry", job=job_id, at=at.isoformat()))
                except Exception as exc:  # the database went again: keep it for the next look
                    log.warning(kv("scheduler_job_retry_deferred", job=job_id, error=type(exc).__name__))
                    continue
            else:
                log.warning(kv("scheduler_job_retry_too_late", job=job_id, until=until.isoformat()))
            with self._lock:
                if self._until.get(job_id) == until:
                    del self._until[job_id]
