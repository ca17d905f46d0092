"""Reading import workbooks: where the header is, which rows count, which files are refused."""
from __future__ import annotations

import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from services.school.imports import UnreadableFile
from services.school.imports.sheet import BLANK_RUN_LIMIT, read_sheet
from tests.xlsx_files import CATALOG_HEADER, ROSTER_HEADER, roster_row, write_roster, write_xlsx

COLUMNS = tuple(ROSTER_HEADER)


def test_header_is_found_below_title_rows_among_extra_columns(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["某公司报名汇总表"])
    sheet.append([])
    sheet.append(["序号", " 姓 名 ", *ROSTER_HEADER[1:], "备注"])
    sheet.append([1, *roster_row(), "无"])
    workbook.save(tmp_path / "extra.xlsx")
    rows = read_sheet(tmp_path / "extra.xlsx", COLUMNS)
    assert [row.number for row in rows] == [4]
    assert rows[0]["姓名"] == "周一" and rows[0]["班级"] is None


def test_full_width_brackets_in_a_header_still_match(tmp_path):
    header = [name.replace("(", "（").replace(")", "）") for name in CATALOG_HEADER]
    path = write_xlsx(tmp_path / "c.xlsx", header, [["公共课", None, "公共课程", "t", "https://a.b/c", 1, 1]])
    assert read_sheet(path, tuple(CATALOG_HEADER))[0]["时长(秒)"] == 1


def test_a_header_below_row_10_makes_the_file_unreadable(tmp_path):
    path = write_roster(tmp_path / "low.xlsx", [roster_row()], titles=[["标题"]] * 10)
    with pytest.raises(UnreadableFile, match="前10行中找不到表头"):
        read_sheet(path, COLUMNS)


def test_a_missing_column_makes_the_file_unreadable(tmp_path):
    path = write_xlsx(tmp_path / "cols.xlsx", ROSTER_HEADER[:-1], [roster_row()[:-1]])
    with pytest.raises(UnreadableFile, match="班级"):
        read_sheet(path, COLUMNS)


def test_missing_file_and_non_xlsx_files_are_unreadable(tmp_path):
    with pytest.raises(UnreadableFile, match="找不到文件"):
        read_sheet(tmp_path / "nope.xlsx", COLUMNS)
    fake = tmp_path / "roster.xlsx"
    fake.write_text("姓名,身份证号\n周一,320505198001010017\n", encoding="utf-8")
    with pytest.raises(UnreadableFile, match=r"\.xlsx"):
        read_sheet(fake, COLUMNS)
    old = tmp_path / "roster.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0 not really")
    with pytest.raises(UnreadableFile, match=r"\.xls"):
        read_sheet(old, COLUMNS)


def test_blank_rows_are_skipped_and_numbers_stay_excel_row_numbers(tmp_path):
    path = write_roster(tmp_path / "gaps.xlsx", [roster_row(), [], [None, " "], *[[]] * 30, roster_row("吴二")])
    rows = read_sheet(path, COLUMNS)
    assert [(row.number, row["姓名"]) for row in rows] == [(2, "周一"), (35, "吴二")]


def test_reading_stops_in_the_formatted_void_excel_leaves_below_the_data(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(ROSTER_HEADER)
    sheet.append(roster_row())
    for number in range(3, 20_000):  # formatted, empty: what Excel writes when a column is styled
        sheet.cell(row=number, column=2).number_format = "@"
    sheet.cell(row=20_001, column=1, value="合计")
    workbook.save(tmp_path / "void.xlsx")
    assert load_workbook(tmp_path / "void.xlsx", read_only=True).worksheets[0].max_row == 20_001
    rows = read_sheet(tmp_path / "void.xlsx", COLUMNS)
    assert [row.number for row in rows] == [2]
    assert BLANK_RUN_LIMIT < 20_000


def test_a_wrong_stored_dimension_does_not_hide_rows(tmp_path):
    path = write_roster(tmp_path / "dim.xlsx", [roster_row(), roster_row("吴二")])
    patched = tmp_path / "patched.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(patched, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="A1:H3" />', b'<dimension ref="A1" />')
                assert b'<dimension ref="A1" />' in data
            target.writestr(item, data)
    assert [row["姓名"] for row in read_sheet(patched, COLUMNS)] == ["周一", "吴二"]


def test_a_workbook_with_a_damaged_sheet_is_unreadable(tmp_path):
    path = write_roster(tmp_path / "ok.xlsx", [roster_row()])
    damaged = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, data[: len(data) // 2] if item.filename == "xl/worksheets/sheet1.xml" else data)
    with pytest.raises(UnreadableFile, match="已损坏"):
        read_sheet(damaged, COLUMNS)


def test_a_sheet_without_its_size_is_read_in_one_pass_not_parsed_first_for_the_size(tmp_path, monkeypatch):
    # openpyxl's write-only files (and some exporters') carry no <dimension>: openpyxl's read-only
    # sheet would parse the whole sheet once more to find its size, which the reader ignores.
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("报名汇总表")
    sheet.append(["标题"])
    sheet.append(ROSTER_HEADER)
    for n in range(3):
        sheet.append(roster_row(name=f"学员{n}"))
    workbook.save(tmp_path / "no-dimension.xlsx")
    with zipfile.ZipFile(tmp_path / "no-dimension.xlsx") as archive:
        assert b"<dimension" not in archive.read("xl/worksheets/sheet1.xml")

    def parsed_for_size(self):
        raise AssertionError("the sheet was parsed for its size")

    monkeypatch.setattr("openpyxl.worksheet._reader.WorkSheetParser.parse_dimensions", parsed_for_size)
    rows = read_sheet(tmp_path / "no-dimension.xlsx", COLUMNS)
    assert [(row.number, row["姓名"]) for row in rows] == [(3, "学员0"), (4, "学员1"), (5, "学员2")]
