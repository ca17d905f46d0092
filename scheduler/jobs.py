"""The scheduler's jobs: importable functions (APScheduler stores them by name), each a thin call
into services inside the app's context.

Each takes an optional `now` so tests can drive the clock; APScheduler calls them with nothing.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from datetime import datetime

import redis as redis_lib
from flask import Flask, current_app, has_app_context

from services.logfmt import kv
from services.notices import last_dispatch
from services.notices.desk import NoticeDesk
from services.timeutil import utcnow

log = logging.getLogger(__name__)

# Runs every DISPATCH_INTERVAL_S and stops claiming before the next is due, so runs never overlap;
# a bigger backlog simply goes on at the next run.
DISPATCH_INTERVAL_S = 10
DISPATCH_MAX_S = 8
HOURS_INTERVAL_S = 60

_app: Flask | None = None


def bind(app: Flask) -> None:
    """The scheduler process has exactly one app; its job threads enter its context."""
    global _app
    _app = app


@contextmanager
def app_context():
    if has_app_context():
        yield
        return
    if _app is None:
        raise RuntimeError("scheduler jobs need scheduler.jobs.bind(app) first")
    with _app.app_context():
        yield


def notice_desk() -> NoticeDesk:
    return current_app.extensions["notice_desk"]


def take_over(now: datetime | None = None) -> int:
    """As this process takes the lead: the outbox rows that the last leader's dispatch runs had
    claimed are given back now (never tried: pending; tried: as their lease's end would), not when
    their leases end (OUTBOX_LEASE_S later), so a leader killed mid-push delays its notices by the
    takeover only. Returns how many."""
    from models import db
    from services.notices import outbox

    with app_context():
        released = outbox.release_scheduler_claims(db.session, now or utcnow())
        if released:
            log.info(kv("outbox_claims_released", rows=released))
        return released


# Set while a dispatch run is under way (it claims whatever became due meanwhile: no nudge needed).
dispatching = threading.Event()


def dispatch_outbox(now: datetime | None = None) -> None:
    """Sends the outbox rows that are due (new notices, retries, SMS fallbacks)."""
    dispatching.set()
    try:
        _dispatch_outbox(now)
    finally:
        dispatching.clear()


def _dispatch_outbox(now: datetime | None) -> None:
    with app_context():
        clock = utcnow if now is None else (lambda: now)
        report = notice_desk().dispatcher(clock, scheduler=True).run(max_seconds=DISPATCH_MAX_S)
        if report.sent or report.failed or report.retried or report.expired_leases or report.unknown:
            log.info(kv("outbox_dispatched", sent=report.sent, retried=report.retried, failed=report.failed,
                        fallbacks=report.fallbacks, expired_leases=report.expired_leases, unknown=report.unknown))
        try:
            last_dispatch.mark(current_app.extensions["redis"], now or utcnow())
        except redis_lib.RedisError as exc:  # the dispatch itself went well: only its record is lost
            log.warning(kv("dispatch_record_unavailable", error=type(exc).__name__))


# WeChat's `success` reports queued by the callback, recorded within seconds; a run stops before the next.
JOB_REPORTS_INTERVAL_S = 2
JOB_REPORTS_BUDGET_S = 1.5


def record_job_reports(now: datetime | None = None) -> None:
    """Marks delivered the template messages WeChat reported `success` for (services.notices.job_reports)."""
    from models import db
    from services.notices import job_reports

    with app_context():
        done = job_reports.record(db.session, current_app.extensions["redis"], budget_s=JOB_REPORTS_BUDGET_S)
        if done.reports:
            log.info(kv("job_reports_recorded", reports=done.reports, delivered=done.rows))


SETTLE_TEXTS_INTERVAL_S = 600


def settle_unknown_texts(now: datetime | None = None) -> None:
    """Asks the SMS provider (where it can look a send up) what became of texts of unknown fate."""
    from models import db
    from services.notices import unknown

    with app_context():
        counts = unknown.settle_texts(db.session, notice_desk().sms, now or utcnow())
        if counts.get("sent") or counts.get("failed"):
            log.info(kv("unknown_texts_settled", **counts))


def remind_class_starts(now: datetime | None = None) -> None:
    """Writes the reminders of classes starting from now to the end of tomorrow (once each)."""
    with app_context():
        for notice in notice_desk().class_reminders(now or utcnow()):
            log.info(kv("class_reminder_written", notice=notice.key, recipients=notice.recipients))


def remind_registration_expiry(now: datetime | None = None) -> None:
    """Writes this week's reminder to trainees whose registration ends within 3 months."""
    with app_context():
        notice = notice_desk().registration_expiry(now or utcnow())
        if notice is not None:
            log.info(kv("registration_expiry_written", notice=notice.key, recipients=notice.recipients))


def tell_hours_complete(now: datetime | None = None) -> None:
    """Writes 学时已修满，可以参加考试 to trainees whose hours for a major became complete (once each)."""
    with app_context():
        written = notice_desk().hours_complete(now or utcnow())
        if written:
            log.info(kv("hours_complete_written", notices=len(written)))


# -- the exam --------------------------------------------------------------------------------

SETTLE_INTERVAL_S = 60


def settle_exam_deadlines(now: datetime | None = None) -> None:
    """Grades, as they stand, the exam attempts whose deadline has passed (a pass completes the major).

    Judged by the database's clock, never this host's: a scheduler host whose clock runs fast
    would otherwise grade attempts whose time is not up."""
    from models import db
    from services.db import database_now
    from services.exam.grading import settle_due

    with app_context():
        graded = settle_due(current_app.extensions["exam_tools"](), now or database_now(db.session))
        if graded:
            log.info(kv("exam_deadlines_settled", graded=graded))


def sync_followers(now: datetime | None = None) -> None:
    """Records who follows the account from WeChat's follower list (the nightly `follower sync`)."""
    from models import db
    from services.identity import followers

    with app_context():
        report = followers.sync(db.session, current_app.extensions["wechat_api"], now or utcnow())
        log.info(kv("followers_synced", listed=report.listed, checked=report.checked, following=report.following,
                    not_following=report.not_following))


# -- face comparison of exam photos --------------------------------------------------------------

# Every 20 s for at most 15 s: a photo is analysed well within a minute of its upload, and runs never overlap.
FACES_INTERVAL_S = 20
FACES_BUDGET_S = 15


def analyse_exam_faces(now: datetime | None = None) -> None:
    """Embeds the exam photos not yet analysed and assesses their attempts (nothing while disabled)."""
    with app_context():
        if not current_app.extensions["face_gate"].enabled:
            return
        from services.exam.faces import analysis

        report = analysis.run(current_app.extensions["face_tools"](), now or utcnow(), budget_s=FACES_BUDGET_S)
        if report.analysed or report.skipped:
            log.info(kv("exam_faces_analysed", photos=report.analysed, skipped=report.skipped,
                        assessed=report.assessed, flagged=len(report.flagged), left=report.left))


def purge_exam_photos(now: datetime | None = None) -> None:
    """Deletes exam photos, and their face embeddings, older than PHOTO_RETENTION_DAYS."""
    from services.exam.faces.review import purge_photos

    with app_context():
        purge_photos(current_app.extensions["exam_tools"]().session, current_app.extensions["photo_storage"],
                     now or utcnow(), current_app.extensions["face_gate"].settings.retention_days)
