"""Import files that must not take the server down: bombs, damage, huge files; formula-like text.

Every malformed file is one line and exit 1; no file inflates past the archive limits; at most
MAX_ROWS rows are read; at most 200 rejections are printed.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import xlsxwriter
from openpyxl import Workbook

from models import Trainee, db
from services.school.imports import sheet
from services.school.imports.roster import COLUMNS
from services.spreadsheet import escape_formula, escaped_row
from tests.xlsx_files import ROSTER_HEADER, id_card, roster_row, write_roster

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + ']><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets>'
    '<sheet name="&lol9;" sheetId="1" r:id="rId1" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"/></sheets></workbook>'
)
STRINGS_LAUGHS = (BILLION_LAUGHS.split("]>")[0] + ']><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                  "<si><t>&lol9;</t></si></sst>")
XXE = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
       '<row r="1"><c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row></sheetData></worksheet>')


def good_roster(tmp_path: Path, rows: int = 2) -> Path:
    return write_roster(tmp_path / "good.xlsx", [roster_row(card=id_card(f"3205051980010{n:04d}"),
                                                            phone=f"139{n:08d}") for n in range(rows)])


def shared_strings_roster(tmp_path: Path) -> Path:
    """A good roster with its text in a shared-string table, as Excel saves it (openpyxl writes inline text)."""
    path = tmp_path / "shared.xlsx"
    book = xlsxwriter.Workbook(str(path))
    worksheet = book.add_worksheet()
    for number, row in enumerate([ROSTER_HEADER, roster_row()]):
        for column, value in enumerate(row):
            if value is not None:
                worksheet.write_string(number, column, value)
    book.close()
    return path


def replaced(source: Path, target: Path, member: str, data: bytes | None) -> Path:
    """A copy of the workbook `source` with one member's bytes replaced (None: removed)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            if item.filename != member:
                new.writestr(item, old.read(item.filename))
        if data is not None:
            new.writestr(member, data)
    return target


def zip_bomb(target: Path) -> Path:
    """A valid-looking workbook whose sheet inflates 1000-fold (20 MiB of one byte)."""
    source = good_roster(target.parent)
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                new.writestr(item, old.read(item.filename))
        with new.open("xl/worksheets/sheet1.xml", "w") as member:
            chunk = b" " * (1024 * 1024)
            for _ in range(20):
                member.write(chunk)
    return target


def malformed_files(tmp_path: Path) -> dict[str, Path]:
    good = good_roster(tmp_path)
    files = {
        "text": tmp_path / "text.xlsx",
        "empty": tmp_path / "empty.xlsx",
        "xls_renamed": tmp_path / "old.xlsx",
        "csv_renamed": tmp_path / "csv.xlsx",
        "directory": tmp_path / "folder.xlsx",
        "truncated": tmp_path / "truncated.xlsx",
        "random_zip": tmp_path / "random.xlsx",
        "entity_bomb_workbook": replaced(good, tmp_path / "laughs.xlsx", "xl/workbook.xml", BILLION_LAUGHS.encode()),
        "xxe_in_sheet": replaced(good, tmp_path / "xxe.xlsx", "xl/worksheets/sheet1.xml", XXE.encode()),
        "entity_bomb_strings": replaced(shared_strings_roster(tmp_path), tmp_path / "laughs-strings.xlsx",
                                        "xl/sharedStrings.xml", STRINGS_LAUGHS.encode()),
        "broken_sheet_xml": replaced(good, tmp_path / "broken.xlsx", "xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row>"),
        "no_workbook_xml": replaced(good, tmp_path / "noworkbook.xlsx", "xl/workbook.xml", None),
        "no_sheet": replaced(good, tmp_path / "nosheet.xlsx", "xl/worksheets/sheet1.xml", None),
        "binary_sheet": replaced(good, tmp_path / "binary.xlsx", "xl/worksheets/sheet1.xml", bytes(range(256)) * 10),
        "zip_bomb": zip_bomb(tmp_path / "bomb.xlsx"),
    }
    files["text"].write_text("not a workbook")
    files["empty"].write_bytes(b"")
    files["xls_renamed"].write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 4096)
    files["csv_renamed"].write_text(",".join(ROSTER_HEADER) + "\n周一,320505198001010017\n", encoding="utf-8")
    files["directory"].mkdir()
    files["truncated"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with zipfile.ZipFile(files["random_zip"], "w") as archive:
        archive.writestr("hello.txt", "hi")
    return files


MALFORMED = ["text", "empty", "xls_renamed", "csv_renamed", "directory", "truncated", "random_zip",
             "entity_bomb_workbook", "entity_bomb_strings", "xxe_in_sheet", "broken_sheet_xml", "no_workbook_xml", "no_sheet",
             "binary_sheet", "zip_bomb"]


@pytest.mark.parametrize("kind", MALFORMED)
def test_every_malformed_file_is_one_line_and_exit_1(runner, tmp_path, kind):
    path = malformed_files(tmp_path)[kind]
    for group in ("roster", "catalog"):
        result = runner.invoke(args=[group, "import", str(path)])
        assert result.exit_code == 1, (kind, result.output, result.exception)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.output and "root:" not in lines[0], (kind, lines)
        assert "/etc/passwd" not in result.output and "root:x" not in result.output


def test_a_zip_bomb_is_refused_before_it_inflates(tmp_path):
    bomb = zip_bomb(tmp_path / "bomb.xlsx")
    assert bomb.stat().st_size < 200_000
    with pytest.raises(sheet.UnreadableFile, match="解压后过大"):
        sheet.read_sheet(bomb, COLUMNS)


def test_too_many_members_or_bytes_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(sheet, "MAX_INFLATED", 10_000)  # the same check, at a size a test can make
    with pytest.raises(sheet.UnreadableFile, match="解压后过大"):
        sheet.read_sheet(good_roster(tmp_path, rows=200), COLUMNS)


def test_rows_are_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(sheet, "MAX_ROWS", 50)
    path = good_roster(tmp_path, rows=51)
    with pytest.raises(sheet.UnreadableFile, match="超过 50 行"):
        sheet.read_sheet(path, COLUMNS)
    assert len(sheet.read_sheet(good_roster(tmp_path, rows=50), COLUMNS)) == 50


def test_the_row_cap_is_fifty_thousand():
    assert sheet.MAX_ROWS == 50_000


def test_only_the_first_200_rejections_are_printed_then_a_count(runner, tmp_path):
    path = write_roster(tmp_path / "bad.xlsx", [roster_row(card="123", phone=f"139{n:08d}") for n in range(260)])
    result = runner.invoke(args=["roster", "import", str(path)])
    lines = result.output.splitlines()
    assert result.exit_code == 0 and lines[0] == "新增 0，更新 0，未变 0，拒绝 260"
    assert len(lines) == 1 + 200 + 1 and lines[1].startswith("第2行") and lines[200].startswith("第201行")
    assert "另有 60 行被拒绝" in lines[-1]


FORMULAS = ["=1+1", "+SUM(A1:A2)", "-2+3", "@SUM(A1)", "=HYPERLINK(\"http://evil.test\",\"点我\")",
            "=cmd|' /C calc'!A0"]


@pytest.mark.parametrize("typed", FORMULAS)
def test_formula_like_text_is_imported_as_text(app, runner, tmp_path, typed):
    workbook = Workbook()
    workbook.active.append(ROSTER_HEADER)
    workbook.active.append(roster_row(company=typed))
    workbook.active["D2"].data_type = "s"  # typed as text, as Excel keeps a cell formatted as text
    path = tmp_path / "f.xlsx"
    workbook.save(path)
    workbook_text = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in workbook_text  # the test file holds text, as a company would type it
    result = runner.invoke(args=["roster", "import", str(path)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.query(Trainee.company).scalar() == typed


@pytest.mark.parametrize("typed", FORMULAS + ["\tx", "\rx"])
def test_exports_escape_formula_like_text(typed):
    assert escape_formula(typed) == "'" + typed


def test_other_cells_are_left_alone():
    assert escaped_row(["张三", "320505198001010017", 60, 4.5, None, "", "a=b"]) == [
        "张三", "320505198001010017", 60, 4.5, None, "", "a=b"]


def test_an_escaped_cell_is_text_in_the_written_workbook(tmp_path):
    workbook = Workbook()
    workbook.active.append(escaped_row(["=1+1", "ok"]))
    buffer = io.BytesIO()
    workbook.save(buffer)
    xml = zipfile.ZipFile(buffer).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in xml
