"""Test data built through the real models and services."""
from __future__ import annotations

from datetime import UTC, datetime

from models import ClassMember, Enrollment, Trainee, TrainingClass, WechatUser, db
from services.identity.pii import mask_id_card
from services.school.majors import ensure_majors


def trainee(app, name="周一", phone="13912340001", id_card="320505198001010017",
            majors=(("建筑工程", "main"),), openid: str | None = None, class_code: str | None = None) -> int:
    """Creates a trainee (optionally bound to `openid` and in class `class_code`); returns its id."""
    cipher = app.extensions["pii"]
    with app.app_context():
        by_name = ensure_majors(db.session)
        person = Trainee(name=name, phone=phone, company="苏州示例建设有限公司",
                         id_card_hash=cipher.lookup_hash(id_card), id_card_enc=cipher.encrypt(id_card),
                         id_card_mask=mask_id_card(id_card))
        for major_name, kind in majors:
            major = by_name[major_name]
            person.enrollments.append(Enrollment(major=major, kind=kind, fee=major.fee_for(kind)))
        db.session.add(person)
        db.session.flush()
        if class_code:
            training_class = db.session.query(TrainingClass).filter_by(code=class_code).one()
            db.session.add(ClassMember(class_id=training_class.id, trainee_id=person.id))
        if openid:
            db.session.add(WechatUser(openid=openid, subscribed=True, trainee_id=person.id,
                                      bound_at=datetime.now(UTC)))
        db.session.commit()
        return person.id


def training_class(app, code="SZ2701-JZ", major="建筑工程", name="2027年第1期建筑工程班",
                   starts_at=datetime(2027, 3, 1, 1, 0, tzinfo=UTC), place="苏州市姑苏区人民路100号培训楼") -> int:
    with app.app_context():
        by_name = ensure_majors(db.session)
        training_class = TrainingClass(code=code, major=by_name[major], name=name, starts_at=starts_at, place=place)
        db.session.add(training_class)
        db.session.commit()
        return training_class.id
