"""The exports page: each file's row count before the download, an empty export refused with the
reason, and the formula guard on every text cell of the completions, attendance and fees files."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from models import Trainee, db
from tests import factories
from tests.completion_util import complete
from tests.notify_util import CLASS_CODE, id_card, phone

HOSTILE = '=HYPERLINK("http://evil.test","点我")'


@pytest.fixture
def hostile(app):
    """A trainee whose name and company were typed as formulas, in the class, with a completion."""
    factories.training_class(app)
    trainee = factories.trainee(app, name="@SUM(1+1)", phone=phone(7), id_card=id_card(7), class_code=CLASS_CODE)
    with app.app_context():
        db.session.get(Trainee, trainee).company = HOSTILE
        db.session.commit()
    complete(app, trainee)
    return trainee


def _cells(response):
    assert response.status_code == 200, response.status_code
    sheet = load_workbook(io.BytesIO(response.data)).active
    return [cell for row in sheet.iter_rows(min_row=2) for cell in row]


def _inert(cells, typed: str) -> None:
    found = [c for c in cells if isinstance(c.value, str) and typed in c.value]
    assert found, typed
    for cell in found:
        assert cell.value == "'" + typed and cell.data_type == "s"
    assert not any(isinstance(c.value, str) and c.value.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)


def test_attendance_file_makes_formula_like_text_inert(console, hostile):
    cells = _cells(console.get(f"/admin/exports/attendance/{CLASS_CODE}.xlsx"))
    _inert(cells, HOSTILE)
    _inert(cells, "@SUM(1+1)")


def test_fees_file_makes_formula_like_text_inert(console, hostile):
    _inert(_cells(console.get("/admin/exports/fees.xlsx")), HOSTILE)


def test_completions_file_makes_formula_like_text_inert(console, hostile):
    cells = _cells(console.post("/admin/exports/completions", data={"from": "", "to": "", "major": ""}))
    _inert(cells, HOSTILE)
    _inert(cells, "@SUM(1+1)")


def test_exports_page_says_how_many_rows_each_file_holds(console, hostile):
    page = console.text("/admin/exports")
    assert "符合条件的结业记录：<strong>1</strong> 条" in page
    assert "（1 行）" in page  # the class's attendance report
    assert "下载费用汇总（Excel，1 行）" in page


def test_the_completions_count_follows_the_filters(console, hostile):
    assert "<strong>1</strong> 条" in console.text("/admin/exports/completions/count?major=建筑工程")
    other = console.text("/admin/exports/completions/count?major=机电工程")
    assert "机电工程专业" in other and "没有结业记录" in other and "不限条件共有 1 条" in other
    assert "日期" in console.text("/admin/exports/completions/count?from=2027-13-01")


def test_empty_exports_say_why_and_download_nothing(app, console):
    page = console.text("/admin/exports")
    assert "尚无结业记录" in page and "费用汇总为空" in page
    response = console.post("/admin/exports/completions", data={"from": "", "to": "", "major": ""},
                            follow_redirects=True)
    assert response.mimetype == "text/html" and "还没有学员考试合格" in response.get_data(as_text=True)
    response = console.get("/admin/exports/fees.xlsx", follow_redirects=True)
    assert response.mimetype == "text/html" and "费用汇总为空" in response.get_data(as_text=True)
    factories.training_class(app)
    response = console.get(f"/admin/exports/attendance/{CLASS_CODE}.xlsx", follow_redirects=True)
    assert response.mimetype == "text/html" and "还没有学员" in response.get_data(as_text=True)


def test_an_export_emptied_by_voids_says_so(app, console):
    trainee = factories.trainee(app)
    with app.app_context():
        from models import Completion

        number = complete(app, trainee, attempt_id=None)
        db.session.query(Completion).filter_by(number=number).update({"state": "cancelled"})
        db.session.commit()
    response = console.post("/admin/exports/completions", data={"from": "", "to": "", "major": ""},
                            follow_redirects=True)
    assert "都已作废" in response.get_data(as_text=True)
