"""The scheduler: its jobs at the right Beijing times (the clock driven, no sleeping), what each job
writes, the job store across restarts, and one leader among several `scheduler run` processes."""
from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

import scheduler
from models import Enrollment, Notice, OutboxMessage, TrainingClass, db
from scheduler import jobs
from services import keys
from services.timeutil import SHANGHAI
from tests.notify_util import (
    TEMPLATE_PATH,
    class_with_trainees,
    notify_settings,
    openid,
    sms_sent,
    template_recipients,
)

BEIJING = SHANGHAI


def at(*parts) -> datetime:
    """A Beijing wall-clock time."""
    return datetime(*parts, tzinfo=BEIJING)


def spec(job_id: str):
    return next(s for s in scheduler.job_specs() if s.id == job_id)


def fires(job_id: str, *after: datetime) -> list[datetime]:
    trigger = spec(job_id).trigger
    return [trigger.get_next_fire_time(None, moment).astimezone(BEIJING) for moment in after]


def test_class_reminders_run_hourly_from_nine_to_eight_pm_beijing_time():
    assert fires("remind_class_starts", at(2027, 2, 28, 8, 30), at(2027, 2, 28, 9, 0, 1), at(2027, 2, 28, 20, 30)) \
        == [at(2027, 2, 28, 9), at(2027, 2, 28, 10), at(2027, 3, 1, 9)]
    # 09:00 in Beijing is 01:00 UTC, whatever the machine's own zone.
    assert fires("remind_class_starts", datetime(2027, 2, 28, 0, 30, tzinfo=UTC))[0] \
        .astimezone(UTC) == datetime(2027, 2, 28, 1, 0, tzinfo=UTC)


def test_registration_reminders_run_on_monday_at_half_past_nine():
    assert fires("remind_registration_expiry", at(2027, 3, 3, 10), at(2027, 3, 8, 9, 31)) \
        == [at(2027, 3, 8, 9, 30), at(2027, 3, 15, 9, 30)]


def test_misfire_grace_keeps_late_runs_in_office_hours():
    assert spec("remind_registration_expiry").misfire_grace_s == 8 * 3600  # 09:30 + 8 h = 17:30
    assert spec("remind_class_starts").misfire_grace_s < 3600  # within its own hour
    assert spec("dispatch_outbox").misfire_grace_s <= jobs.DISPATCH_INTERVAL_S
    assert jobs.DISPATCH_MAX_S < jobs.DISPATCH_INTERVAL_S  # runs never overlap


@pytest.fixture
def reminder_app(make_app, fake_wechat):
    return make_app(**notify_settings(fake_wechat, WECHAT_TEMPLATE_CLASS_REMINDER="tmpl-reminder"))


def notices_of(app, kind: str) -> list[tuple[str, int]]:
    with app.app_context():
        found = db.session.scalars(select(Notice).where(Notice.kind == kind).order_by(Notice.id))
        return [(notice.key, notice.recipients) for notice in found]


def test_class_reminder_is_written_the_day_before_once_and_again_when_the_class_moves(reminder_app, fake_wechat, redis):
    class_with_trainees(reminder_app, bound=2, unbound=1)  # starts 2027-03-01 09:00 Beijing
    with reminder_app.app_context():
        jobs.remind_class_starts(now=at(2027, 2, 27, 9))
        assert notices_of(reminder_app, "class_reminder") == []

        jobs.remind_class_starts(now=at(2027, 2, 28, 9))
        jobs.remind_class_starts(now=at(2027, 2, 28, 10))
        jobs.dispatch_outbox(now=at(2027, 2, 28, 10, 0, 10))
        assert [n for _, n in notices_of(reminder_app, "class_reminder")] == [3]

        db.session.execute(update(TrainingClass).values(starts_at=at(2027, 3, 2, 14).astimezone(UTC)))
        db.session.commit()
        jobs.remind_class_starts(now=at(2027, 3, 1, 9))
        jobs.dispatch_outbox(now=at(2027, 3, 1, 9, 0, 10))

    keys = [key for key, _ in notices_of(reminder_app, "class_reminder")]
    assert len(keys) == 2 and keys[1].endswith("20270302T0600Z")
    assert len(fake_wechat.calls(TEMPLATE_PATH)) == 4 and len(sms_sent(redis)) == 2
    assert Counter(call.json["data"]["time2"]["value"] for call in fake_wechat.calls(TEMPLATE_PATH)) == {
        "2027年3月1日 09:00": 2, "2027年3月2日 14:00": 2}
    assert template_recipients(fake_wechat) == {openid(1): 2, openid(2): 2}


def test_a_class_created_after_nine_still_gets_its_reminder_the_same_day(reminder_app):
    with reminder_app.app_context():
        jobs.remind_class_starts(now=at(2027, 2, 28, 9))
    class_with_trainees(reminder_app, bound=1, unbound=0)  # created at 09:20, say

    with reminder_app.app_context():
        jobs.remind_class_starts(now=at(2027, 2, 28, 10))

    assert [n for _, n in notices_of(reminder_app, "class_reminder")] == [1]


def set_expiry(app, trainee_id: int, expires: date) -> None:
    with app.app_context():
        db.session.execute(update(Enrollment).where(Enrollment.trainee_id == trainee_id)
                           .values(registration_expires=expires))
        db.session.commit()


def test_registration_reminder_reaches_trainees_expiring_within_three_months_once_a_week(reminder_app, redis):
    soon, later, past = class_with_trainees(reminder_app, bound=0, unbound=3)
    set_expiry(reminder_app, soon, date(2027, 4, 4))    # 3 months after 2027-01-04, to the day
    set_expiry(reminder_app, later, date(2027, 4, 20))
    set_expiry(reminder_app, past, date(2027, 1, 3))
    monday = at(2027, 1, 4, 9, 30)

    with reminder_app.app_context():
        jobs.remind_registration_expiry(now=monday)
        jobs.remind_registration_expiry(now=monday + timedelta(days=3))  # same week: nothing new
        jobs.dispatch_outbox(now=monday + timedelta(days=3))
        jobs.remind_registration_expiry(now=monday + timedelta(days=7))
        rows = db.session.execute(
            select(OutboxMessage.trainee_id, func.count()).group_by(OutboxMessage.trainee_id)).all()

    assert notices_of(reminder_app, "registration_expiry") == [
        ("registration_expiry:2027-W01", 1), ("registration_expiry:2027-W02", 1)]
    assert rows == [(soon, 2)]
    [sms] = sms_sent(redis)
    assert sms.body["template_code"] == "SMS_REGISTRATION_EXPIRY" and sms.body["params"]["date"] == "2027年4月4日"


@pytest.fixture
def job_store(app):
    sched = scheduler.build_scheduler(app)
    sched.start(paused=True)
    sched.remove_all_jobs()
    yield sched
    sched.remove_all_jobs()
    sched.shutdown(wait=False)


def test_jobs_are_stored_with_fixed_ids_and_keep_their_next_run_across_restarts(app, job_store):
    scheduler.sync_jobs(job_store)
    stored = {job.id: job.next_run_time for job in job_store.get_jobs()}
    assert set(stored) == {"dispatch_outbox", "record_job_reports", "remind_class_starts", "remind_registration_expiry",
                           "settle_exam_deadlines", "settle_unknown_texts", "sync_followers", "tell_hours_complete",
                           "analyse_exam_faces", "purge_exam_photos"}
    weekly = job_store.get_job("remind_registration_expiry")
    assert (weekly.coalesce, weekly.max_instances, weekly.misfire_grace_time) == (True, 1, 8 * 3600)

    restarted = scheduler.build_scheduler(app)
    restarted.start(paused=True)
    try:
        scheduler.sync_jobs(restarted)
        assert {job.id: job.next_run_time for job in restarted.get_jobs()} == stored
    finally:
        restarted.shutdown(wait=False)


def test_a_changed_job_definition_replaces_the_stored_one(job_store):
    job_store.add_job("scheduler.jobs:remind_class_starts", "cron", hour=7, id="remind_class_starts",
                      misfire_grace_time=60)

    scheduler.sync_jobs(job_store)

    job = job_store.get_job("remind_class_starts")
    assert str(job.trigger) == str(spec("remind_class_starts").trigger) and job.misfire_grace_time == 50 * 60


def test_a_second_scheduler_process_waits_and_takes_over_when_the_leader_stops(make_app, job_store, monkeypatch):
    apps, stops, leading = [make_app(), make_app()], [threading.Event(), threading.Event()], [[], []]
    taken_over: list[int] = []
    real_take_over = jobs.take_over
    # Each takes back what the previous leader's dispatch runs held, before its jobs start.
    monkeypatch.setattr(jobs, "take_over", lambda: taken_over.append(real_take_over()))
    threads = [
        threading.Thread(target=scheduler.run, args=(apps[i], stops[i]),
                         # Long enough that a loaded machine's slow start (jobs synced to the
                         # store) doesn't outlast the lock before its first renewal.
                         kwargs={"ttl_s": 3, "on_change": leading[i].append})
        for i in range(2)
    ]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: leading[0] or leading[1])
        first = 0 if leading[0] else 1
        time.sleep(2.5)  # a few renewals later, still one leader
        assert leading[first] == [True] and leading[1 - first] == []

        stops[first].set()
        threads[first].join(5)
        wait_until(lambda: leading[1 - first] == [True])
        assert leading[first] == [True, False]
        assert taken_over == [0, 0]  # once per lead taken (nothing was held here)
    finally:
        for stop in stops:
            stop.set()
        for thread in threads:
            thread.join(5)
    assert not any(thread.is_alive() for thread in threads)


def wait_until(condition, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class _Recorder:
    """Stands in for the running APScheduler: what the leader asked of it."""

    def __init__(self):
        self.modified: list[str] = []

    def modify_job(self, job_id, **changes):
        assert set(changes) == {"next_run_time"}
        self.modified.append(job_id)


def test_a_notice_queued_by_staff_starts_the_leaders_dispatch_within_a_second(make_app):
    app = make_app()
    redis = app.extensions["redis"]
    recorder, stop = _Recorder(), threading.Event()
    redis.set(keys.outbox_nudge(), "1")
    started = time.monotonic()
    scheduler._lead_for(1.5, stop, recorder, redis)
    assert recorder.modified == ["dispatch_outbox"] and redis.get(keys.outbox_nudge()) is None
    assert time.monotonic() - started >= 1.4  # it still waited out its turn

    jobs.dispatching.set()  # a run under way claims the new rows itself: no second run asked for
    try:
        redis.set(keys.outbox_nudge(), "1")
        scheduler._lead_for(1.5, stop, recorder, redis)
    finally:
        jobs.dispatching.clear()
    assert recorder.modified == ["dispatch_outbox"]

    stop.set()  # a stop ends the wait at once
    started = time.monotonic()
    scheduler._lead_for(30, stop, recorder, redis)
    assert time.monotonic() - started < 1
