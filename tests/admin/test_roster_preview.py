"""The roster preview names each row to be added, updated or rejected (masked name, company, major,
reason) before staff confirm, and names the class codes that don't exist yet with a link to create them."""
from __future__ import annotations

import io
import re

from models import Trainee, db
from services.school.imports import import_roster
from tests import factories
from tests.xlsx_files import roster_row, write_roster


def _preview(console, path) -> str:
    with open(path, "rb") as fh:
        response = console.post("/admin/rosters", data={"file": (io.BytesIO(fh.read()), "名单.xlsx")},
                                content_type="multipart/form-data")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _section(page: str, section_id: str) -> str:
    found = re.search(rf'<details[^>]*id="{section_id}".*?</details>', page, re.S)
    return found.group(0) if found else ""


def test_preview_names_each_row_added_updated_and_rejected(app, console, tmp_path):
    factories.training_class(app)
    with app.app_context():
        import_roster(db.session, app.extensions["pii"], write_roster(tmp_path / "old.xlsx", [roster_row()]))
    path = write_roster(tmp_path / "new.xlsx", [
        roster_row(phone="13912349999"),  # row 2: 周一 with a new phone: updated
        roster_row(name="欧阳小明", card="32058319751212108X", phone="13912340002", company="苏州乙建设公司",
                   major="机电工程"),  # row 3: added
        roster_row(name="李四", card="320505198001010018", phone="13912340003", company="苏州丙公司"),  # row 4: bad ID
    ])
    page = _preview(console, path)
    added, updated, rejected = (_section(page, s) for s in ("rows-created", "rows-updated", "rejected"))
    assert "第3行" in added and "欧***" in added and "苏州乙建设公司" in added and "机电工程" in added
    assert "第2行" in updated and "周*" in updated and "建筑工程" in updated
    assert "第4行" in rejected and "李*" in rejected and "苏州丙公司" in rejected and "校验位" in rejected
    assert "欧阳小明" not in page and "李四" not in page  # names masked as on every console list
    assert page.count('id="rejected"') == 1  # one list of the rejected rows, with their names
    assert "13912349999" not in page
    with app.app_context():
        assert db.session.query(Trainee).count() == 1  # nothing written


def test_preview_names_class_codes_that_do_not_exist_with_a_link_to_create_them(app, console, tmp_path):
    path = write_roster(tmp_path / "a.xlsx", [
        roster_row(class_code="SZ2799-JD", major="机电工程"),
        roster_row(name="吴二", card="32058319751212108X", phone="13912340002", class_code="sz2799-jd",
                   major="机电工程"),
    ])
    page = _preview(console, path)
    missing = page.split('id="missing-classes"')[1].split("</div>")[0]
    assert "SZ2799-JD" in missing and "（2 行）" in missing
    link = re.search(r'href="([^"]+)">创建班级 SZ2799-JD', missing).group(1)
    form = console.text(link.replace("&amp;", "&").split("#")[0])
    assert 'name="code" value="SZ2799-JD"' in form and "<option selected>机电工程</option>" in form
