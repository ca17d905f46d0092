"""The provincial export (CONTRACT §8), read back with openpyxl: columns, text ID cards, real dates,
formula-looking text kept as text, valid completions only, filters."""
from __future__ import annotations

import os
import stat
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from models import db
from services.completion.export import COLUMNS, ExportFilter, ExportRefused, export_completions
from tests import factories
from tests.completion_util import cancel, complete

ZHOU_ID = "320505198001010017"
LI_ID = "11010519491231002X"


@pytest.fixture
def people(app):
    zhou = factories.trainee(app, name="周一", phone="13912340001", id_card=ZHOU_ID,
                             majors=(("建筑工程", "main"), ("市政公用工程", "added")))
    li = factories.trainee(app, name="=HYPERLINK(\"http://x\",\"李\")", phone="13912340002", id_card=LI_ID,
                           majors=(("建筑工程", "main"),))
    return zhou, li


def export(app, path, wanted=None):
    with app.app_context():
        return export_completions(db.session, app.extensions["pii"], path, wanted or ExportFilter())


def rows(path):
    sheet = load_workbook(path).worksheets[0]
    return [[c for c in row] for row in sheet.iter_rows()]


def test_columns_types_and_values_read_back(app, people, tmp_path):
    zhou, li = people
    building = complete(app, zhou, score=86)
    municipal = complete(app, zhou, major="市政公用工程", score=60,
                         at=datetime(2027, 3, 31, 17, 30, tzinfo=UTC))  # 4月1日 in Shanghai
    result = export(app, tmp_path / "out.xlsx")
    assert result.rows == 2 and result.path == (tmp_path / "out.xlsx").resolve()
    header, first, second = rows(tmp_path / "out.xlsx")
    assert tuple(c.value for c in header) == COLUMNS == (
        "姓名", "身份证号", "手机号", "工作单位", "专业", "类型", "公共课学时", "专业课学时", "考试学时",
        "考试成绩", "完成日期", "证书编号")
    assert [c.value for c in first] == ["周一", ZHOU_ID, "13912340001", "苏州示例建设有限公司", "建筑工程", "主项",
                                        16, 40, 4, 86, datetime(2027, 3, 20), building]
    assert [c.value for c in second][4:6] == ["市政公用工程", "增项"]
    assert second[10].value == datetime(2027, 4, 1) and second[11].value == municipal
    assert first[1].data_type == "s" and first[2].data_type == "s"  # text cells, never numbers
    assert first[10].is_date and first[10].number_format == "yyyy-mm-dd"
    assert first[6].data_type == "n" and first[9].data_type == "n"


def test_id_card_ending_in_x_and_formula_looking_name_stay_text(app, people, tmp_path):
    _, li = people
    complete(app, li)
    export(app, tmp_path / "out.xlsx")
    _, row = rows(tmp_path / "out.xlsx")
    assert row[0].value == "'=HYPERLINK(\"http://x\",\"李\")" and row[0].data_type == "s"  # guarded
    assert row[1].value == LI_ID and row[1].data_type == "s"


def test_only_valid_completions_are_exported(app, people, tmp_path):
    zhou, li = people
    complete(app, zhou, attempt_id=1)
    cancel(app, 1)
    kept = complete(app, li, attempt_id=2)
    export(app, tmp_path / "out.xlsx")
    assert [r[11].value for r in rows(tmp_path / "out.xlsx")[1:]] == [kept]


def test_date_and_major_filters_use_shanghai_dates(app, people, tmp_path):
    zhou, li = people
    late_march = complete(app, zhou, at=datetime(2027, 3, 31, 15, 59, tzinfo=UTC))  # 3-31 23:59
    april = complete(app, li, at=datetime(2027, 3, 31, 16, 0, tzinfo=UTC))  # 4-1 00:00
    municipal = complete(app, zhou, major="市政公用工程", at=datetime(2027, 4, 5, 2, 0, tzinfo=UTC))

    def numbers(**wanted):
        export(app, tmp_path / "f.xlsx", ExportFilter(**wanted))
        return [r[11].value for r in rows(tmp_path / "f.xlsx")[1:]]

    assert numbers(date_to=date(2027, 3, 31)) == [late_march]
    assert numbers(date_from=date(2027, 4, 1)) == [april, municipal]
    assert numbers(date_from=date(2027, 4, 1), date_to=date(2027, 4, 1)) == [april]
    assert numbers(major="市政公用工程") == [municipal]
    assert numbers(major="建筑工程", date_from=date(2027, 4, 2)) == []


def test_file_is_private_and_replaced_whole(app, people, tmp_path):
    zhou, _ = people
    complete(app, zhou)
    target = tmp_path / "out.xlsx"
    target.write_text("old")
    export(app, target)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert len(rows(target)) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["out.xlsx"]  # no temporary left behind


@pytest.mark.parametrize("wanted, message", [
    (ExportFilter(major="土木工程"), "没有“土木工程”这个专业"),
    (ExportFilter(date_from=date(2027, 5, 1), date_to=date(2027, 4, 1)), "起始日期晚于截止日期"),
])
def test_bad_filters_are_refused_and_write_nothing(app, tmp_path, wanted, message):
    with pytest.raises(ExportRefused, match=message):
        export(app, tmp_path / "out.xlsx", wanted)
    assert list(tmp_path.iterdir()) == []


def test_a_different_pii_key_refuses_instead_of_writing_garbage(app, make_app, people, tmp_path):
    zhou, _ = people
    complete(app, zhou)
    other = make_app(PII_KEY="another-pii-key-0123456789-abcdefghijkl")
    with pytest.raises(ExportRefused, match="无法解密"):
        export(other, tmp_path / "out.xlsx")
    assert list(tmp_path.iterdir()) == []
