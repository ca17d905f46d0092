"""Rosters in the console: upload, preview (nothing written), confirm, template, fee summary."""
from __future__ import annotations

import io
import re

from openpyxl import load_workbook

from models import AuditEntry, ClassMember, Enrollment, Trainee, db
from services.admin import rosters
from services.school.imports import import_roster
from tests import factories
from tests.xlsx_files import ROSTER_HEADER, ROSTER_SAMPLE, roster_row, write_roster

TOKEN = re.compile(r'name="token" value="([^"]+)"')


def count(app, model) -> int:
    with app.app_context():
        return db.session.query(model).count()


def upload(console, path, name="报名表.xlsx"):
    with open(path, "rb") as fh:
        return console.post("/admin/rosters", data={"file": (io.BytesIO(fh.read()), name)},
                            content_type="multipart/form-data")


def test_preview_lists_each_rejected_row_in_the_cli_words_and_writes_nothing(app, console):
    factories.training_class(app)
    response = upload(console, ROSTER_SAMPLE)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "新增 <strong>4</strong>" in page and "有问题 <strong>5</strong>" in page
    for number in (8, 9, 10, 11, 12):
        assert f"第{number}行" in page
    assert "校验位" in page and "文本" in page and "出生日期" in page
    assert count(app, Trainee) == 0 and count(app, Enrollment) == 0 and count(app, ClassMember) == 0
    token = TOKEN.search(page).group(1)
    assert "320505198001010017" not in page and token not in response.request.url


def test_dry_run_counts_as_the_import_would(app, tmp_path):
    factories.training_class(app)
    with app.app_context():
        dry = import_roster(db.session, app.extensions["pii"], ROSTER_SAMPLE, dry_run=True)
        real = import_roster(db.session, app.extensions["pii"], ROSTER_SAMPLE)
        again = import_roster(db.session, app.extensions["pii"], ROSTER_SAMPLE, dry_run=True)
    assert (dry.created, dry.updated, dry.unchanged, dry.rejected) == \
        (real.created, real.updated, real.unchanged, real.rejected)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


def test_dry_run_of_a_changed_file_reports_updates_and_changes_nothing(app, tmp_path):
    path = write_roster(tmp_path / "a.xlsx", [roster_row()])
    with app.app_context():
        import_roster(db.session, app.extensions["pii"], path)
        changed = write_roster(tmp_path / "b.xlsx", [roster_row(phone="13912349999", kind="增项")])
        report = import_roster(db.session, app.extensions["pii"], changed, dry_run=True)
        assert report.updated == 1
        trainee = db.session.query(Trainee).one()
        assert trainee.phone == "13912340001" and trainee.enrollments[0].kind == "main"


def test_confirm_imports_the_previewed_file_once_and_records_it(app, console):
    factories.training_class(app)
    page = upload(console, ROSTER_SAMPLE).get_data(as_text=True)
    token = TOKEN.search(page).group(1)
    done = console.post("/admin/rosters/confirm", data={"token": token, "filename": "报名表.xlsx"})
    assert done.status_code == 200 and "已导入" in done.get_data(as_text=True)
    assert count(app, Trainee) == 3 and count(app, Enrollment) == 4 and count(app, ClassMember) == 1
    again = console.post("/admin/rosters/confirm", data={"token": token, "filename": "报名表.xlsx"})
    assert again.status_code == 302
    assert "过期" in console.text("/admin/rosters")
    with app.app_context():
        entry = db.session.query(AuditEntry).filter_by(action="roster_imported").one()
        assert entry.actor == "wang" and "新增 4" in entry.detail and "拒绝 5" in entry.detail


def test_a_forged_token_imports_nothing(app, console):
    response = console.post("/admin/rosters/confirm", data={"token": "../../etc/passwd", "filename": "x"})
    assert response.status_code == 302 and count(app, Trainee) == 0


def test_an_upload_that_is_not_xlsx_gets_a_clear_message(app, console):
    for body, message in ((b"", "请选择"), (b"name,phone\n", "不是 Excel .xlsx")):
        response = console.post("/admin/rosters", data={"file": (io.BytesIO(body), "x.csv")},
                                content_type="multipart/form-data")
        assert response.status_code == 400 and message in response.get_data(as_text=True)
    response = console.post("/admin/rosters", data={}, content_type="multipart/form-data")
    assert response.status_code == 400


def test_an_xlsx_without_the_header_is_unreadable_not_an_error_page(app, console, tmp_path):
    from tests.xlsx_files import write_xlsx

    path = write_xlsx(tmp_path / "x.xlsx", ["甲", "乙"], [["1", "2"]])
    response = upload(console, path)
    assert response.status_code == 400 and "alert-danger" in response.get_data(as_text=True)


def test_template_has_the_contract_columns_as_text(console):
    response = console.get("/admin/rosters/template.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert [c.value for c in sheet[1]] == ROSTER_HEADER
    assert sheet.column_dimensions["B"].number_format == "@"


def test_fee_summary_per_company_and_major(app, console, tmp_path):
    rows = [roster_row(), roster_row(major="市政公用工程", kind="增项"),
            roster_row(name="吴二", card="32058319751212108X", phone="13912340002", company="=HYPERLINK(\"x\")",
                       major="建筑工程")]
    with app.app_context():
        import_roster(db.session, app.extensions["pii"], write_roster(tmp_path / "a.xlsx", rows))
    page = console.text("/admin/rosters/fees")
    assert "苏州示例建设有限公司" in page and "615" in page and "293" in page and "1523" in page
    only = console.text("/admin/rosters/fees?company=苏州示例建设有限公司")
    assert "HYPERLINK" not in only and "908" in only


def test_a_company_is_marked_paid_and_unpaid_again_recorded(app, console, tmp_path):
    rows = [roster_row(), roster_row(major="市政公用工程", kind="增项"),
            roster_row(name="吴二", card="32058319751212108X", phone="13912340002", company="常州路桥")]
    with app.app_context():
        import_roster(db.session, app.extensions["pii"], write_roster(tmp_path / "a.xlsx", rows))
    response = console.post("/admin/rosters/fees/paid", data={"company": "苏州示例建设有限公司", "paid": "1"})
    assert response.status_code == 302
    page = console.text("/admin/rosters/fees")
    assert "2 项报名已标记为已缴费" in page
    with app.app_context():
        paid = {(e.trainee.company, e.major.name): e.paid_at is not None for e in db.session.query(Enrollment)}
        assert paid == {("苏州示例建设有限公司", "建筑工程"): True, ("苏州示例建设有限公司", "市政公用工程"): True,
                        ("常州路桥", "建筑工程"): False}
        lines = {(f.company, f.major): (f.paid_fee, f.unpaid_fee) for f in rosters.fee_summary(db.session)}
        assert lines[("常州路桥", "建筑工程")] == (0, 615) and lines[("苏州示例建设有限公司", "建筑工程")] == (615, 0)
    console.post("/admin/rosters/fees/paid", data={"company": "苏州示例建设有限公司", "paid": "0"})
    with app.app_context():
        assert db.session.query(Enrollment).filter(Enrollment.paid_at.is_not(None)).count() == 0
        actions = [e.action for e in db.session.query(AuditEntry).order_by(AuditEntry.id)]
        assert actions[-2:] == ["fees_marked_paid", "fees_marked_unpaid"]
