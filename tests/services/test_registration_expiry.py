"""The registration-expiry reminder leaves out trainees who passed every enrolled major's exam."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from models import Enrollment, OutboxMessage, db
from services.exam import attempts
from services.timeutil import utcnow
from tests import factories
from tests.exam_util import bank, full_hours, keys_of, photo
from tests.notify_util import id_card, phone
from wxapp.extensions import exam_tools

BOTH = (("建筑工程", "main"), ("市政公用工程", "added"))


def pass_exam(app, trainee_id: int, major: str) -> None:
    now = utcnow()
    with app.app_context():
        exam_id = next(e.id for e in attempts.exams_for(db.session, trainee_id) if e.major == major)
        view, _ = attempts.start_attempt(exam_tools(), trainee_id, exam_id, "t", photo(), now)
    with app.app_context():
        for question_id, keys in keys_of(app, view.id).items():
            attempts.save_answer(exam_tools(), trainee_id, view.id, "t", question_id, keys, now)
        attempts.submit(exam_tools(), trainee_id, view.id, "t", photo(), now + timedelta(minutes=1))


def test_expiry_reminder_skips_only_trainees_who_passed_every_exam(app):
    bank(app, majors=("building", "municipal"))
    done = factories.trainee(app, name="学员1", phone=phone(1), id_card=id_card(1))
    half = factories.trainee(app, name="学员2", phone=phone(2), id_card=id_card(2), majors=BOTH)
    none = factories.trainee(app, name="学员3", phone=phone(3), id_card=id_card(3))
    both_done = factories.trainee(app, name="学员4", phone=phone(4), id_card=id_card(4), majors=BOTH)
    for trainee_id in (done, half, none, both_done):
        full_hours(app, trainee_id, majors=("建筑工程", "市政公用工程"))
    pass_exam(app, done, "建筑工程")
    pass_exam(app, half, "建筑工程")
    pass_exam(app, both_done, "建筑工程")
    pass_exam(app, both_done, "市政公用工程")
    today = utcnow().date()
    with app.app_context():
        db.session.execute(update(Enrollment).values(registration_expires=today + timedelta(days=30)))
        db.session.commit()
        notice = app.extensions["notice_desk"].registration_expiry()
        reached = set(db.session.scalars(select(OutboxMessage.trainee_id).where(OutboxMessage.notice_id == notice.id)))

    assert reached == {half, none}
