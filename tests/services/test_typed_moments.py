"""One parser of typed date-times (`cells.local_moment`): the console's date-time picker, `class
create --starts` and spreadsheet cells accept the forms people type."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models import TrainingClass, db
from services.school.classes import ClassError, parse_local_start
from services.school.imports import cells

NINE = datetime(2027, 3, 1, 9, 0)


@pytest.mark.parametrize("typed", [
    "2027-03-01 09:00", "2027/3/1 9:00", "2027年3月1日 9:00", "2027年3月1日9:00", "2027-03-01T09:00",
    "2027.3.1 09:00:00", " 2027-3-1  9:00 ", "２０２７年３月１日　９：００", NINE, 46447.375,
])
def test_the_usual_forms_of_a_date_and_time(typed):
    assert cells.local_moment(typed, "开班时间") == NINE


@pytest.mark.parametrize("typed, words", [
    ("2027-03-01", "格式不对"), ("明天上午", "格式不对"), ("2027/2/30 9:00", "不是一个存在的日期"),
    ("2027-03-01 25:00", "不是一个存在的日期"), ("", "请填写开班时间"),
])
def test_a_mistyped_moment_is_refused_in_words(typed, words):
    with pytest.raises(cells.CellError, match=words):
        cells.local_moment(typed, "开班时间")


def test_a_start_is_beijing_time_stored_in_utc():
    assert parse_local_start("2027年3月1日 9:00") == datetime(2027, 3, 1, 1, 0, tzinfo=UTC)
    with pytest.raises(ClassError, match="北京时间"):
        parse_local_start("3月1日")


@pytest.mark.parametrize("typed", ["2027/3/1 9:00", "2027年3月1日 9:00"])
def test_class_create_on_the_command_line_takes_the_usual_forms(app, typed):
    result = app.test_cli_runner().invoke(args=["class", "create", "SZ2701-JZ", "--major", "建筑工程", "--name", "一期",
                                                "--starts", typed, "--place", "培训楼"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.query(TrainingClass).one().starts_at == datetime(2027, 3, 1, 1, 0, tzinfo=UTC)


def test_the_console_takes_the_date_time_picker_value(app):
    from tests.admin.conftest import console_on

    console = console_on(app)
    assert 'type="datetime-local"' in console.text("/admin/classes")
    response = console.post("/admin/classes", data={"code": "SZ2702-SZ", "major": "市政公用工程", "name": "市政2期",
                                                    "starts": "2027-04-01T09:00", "place": "苏州培训楼"})
    assert response.status_code == 302
    assert 'value="2027-04-01T09:00"' in console.text("/admin/classes/SZ2702-SZ")
