"""Creating classes: Beijing time in, UTC stored; identical re-runs are no-ops, conflicts refused."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from models import TrainingClass, db
from services.school.classes import ClassError, ClassExists, StartInPast, create_class

ARGS = ("SZ2701-JZ", "建筑工程", "2027年第1期建筑工程班", "2027-03-01 09:00", "苏州市姑苏区人民路100号培训楼")


def create(app, *args):
    with app.app_context():
        training_class, created = create_class(db.session, *args, "test")
        return training_class.id, created


def stored(app):
    with app.app_context():
        return db.session.execute(select(
            TrainingClass.code, TrainingClass.name, TrainingClass.starts_at, TrainingClass.place)).all()


def test_a_class_is_stored_with_its_start_in_utc(app):
    _, created = create(app, *ARGS)
    assert created
    [(code, name, starts_at, place)] = stored(app)
    assert (code, name, place) == ("SZ2701-JZ", "2027年第1期建筑工程班", "苏州市姑苏区人民路100号培训楼")
    assert starts_at == datetime(2027, 3, 1, 1, 0, tzinfo=UTC)
    assert starts_at.utcoffset().total_seconds() == 0


def test_creating_the_same_class_again_changes_nothing(app):
    first, _ = create(app, *ARGS)
    again, created = create(app, *ARGS)
    assert (again, created) == (first, False)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TrainingClass)) == 1


@pytest.mark.parametrize("index, value", [(1, "市政公用工程"), (2, "另一个名字"), (3, "2027-03-02 09:00"), (4, "别处")])
def test_a_different_class_under_an_existing_code_is_refused(app, index, value):
    create(app, *ARGS)
    args = list(ARGS)
    args[index] = value
    with pytest.raises(ClassExists, match="班级 SZ2701-JZ 已存在.*2027-03-01 09:00"):
        create(app, *args)
    with pytest.raises(ClassExists):
        create(app, "sz2701-jz", *args[1:])
    assert stored(app)[0][3] == ARGS[4]


@pytest.mark.parametrize("starts", ["2027-03-01", "2027-02-30 09:00", "09:00", "明天上午"])
def test_a_start_time_in_another_format_is_refused(app, starts):
    with pytest.raises(ClassError, match="YYYY-MM-DD HH:MM|不是一个存在的日期"):
        create(app, ARGS[0], ARGS[1], ARGS[2], starts, ARGS[4])
    assert stored(app) == []


def test_an_unknown_major_is_refused_with_the_six_majors_named(app):
    with pytest.raises(ClassError, match="专业“建筑”不存在.*矿业工程"):
        create(app, ARGS[0], "建筑", *ARGS[2:])


@pytest.mark.parametrize("index", [0, 2, 4])
def test_an_empty_code_name_or_place_is_refused(app, index):
    args = list(ARGS)
    args[index] = "  "
    with pytest.raises(ClassError, match="不能为空"):
        create(app, *args)


def test_a_new_class_may_not_start_in_the_past_unless_allowed(app):
    now = datetime(2027, 3, 1, 1, 30, tzinfo=UTC)  # 09:30 in Beijing, half an hour after the start
    with app.app_context():
        with pytest.raises(StartInPast) as refused:
            create_class(db.session, *ARGS, "test", now=now)
        assert "2027-03-01 09:00（北京时间）已经过去" in refused.value.message
        assert db.session.scalar(select(func.count()).select_from(TrainingClass)) == 0
        _, created = create_class(db.session, *ARGS, "test", allow_past=True, now=now)
        assert created
        assert create_class(db.session, *ARGS, "test", now=now)[1] is False  # the same class again: a no-op
