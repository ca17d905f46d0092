"""The import reader's own parse of sheets and shared strings (sheet_xml) against openpyxl's.

openpyxl's read-only reader (`data_only=True`) is the reference: for every workbook here the rows
read must be those openpyxl reads, value for value and type for type; files openpyxl refuses are
refused; no entity is expanded.
"""
from __future__ import annotations

import io
import time
import zipfile
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import pytest
import xlsxwriter
from openpyxl import Workbook, load_workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from services.school.imports import UnreadableFile, sheet
from services.school.imports.roster import COLUMNS
from services.school.imports.sheet_xml import ForbiddenXml, sheet_rows
from tests.test_import_hostile import BILLION_LAUGHS, replaced
from tests.xlsx_files import ROSTER_HEADER, SAMPLES, roster_row, write_roster

MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
SHEET = "xl/worksheets/sheet1.xml"
ROW = ["周一", "320505198001010017", "13912340001", "公司", "建筑工程", "主项", "2027-03-01", "JZ"]


def openpyxl_rows(path: Path) -> list[tuple]:
    """Every row of the first sheet as openpyxl's read-only reader gives it (the reader before sheet_xml)."""
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        worksheet = workbook.worksheets[0]
        worksheet.reset_dimensions()
        return [tuple(row) for row in worksheet.iter_rows(min_row=1, values_only=True)]
    finally:
        workbook.close()


def our_rows(path: Path) -> list[tuple]:
    workbook = sheet._open(path)
    try:
        return list(workbook.worksheets[0].row_values(min_row=1))
    finally:
        workbook.close()


def typed(rows: list[tuple]) -> list[list]:
    return [[(type(value).__name__, value) for value in row] for row in rows]


def xlsxwriter_book(path: Path, options: dict | None = None) -> Path:
    """Shared strings, rich strings, number formats (dates, times, durations, Chinese dates, text),
    formulas with their cached results (an error among them), booleans, numbers of every size."""
    book = xlsxwriter.Workbook(str(path), options or {})
    ws = book.add_worksheet("报名汇总表")
    formats = [book.add_format({"num_format": code}) for code in (
        "yyyy-mm-dd hh:mm", "yyyy/m/d", 'yyyy"年"m"月"d"日"', "h:mm", "[h]:mm:ss", "@", "0.00")]
    formats += [book.add_format({"num_format": number}) for number in (14, 22, 31, 57, 46)]
    bold = book.add_format({"bold": True})
    ws.write_string(0, 0, "某公司报名汇总表")
    ws.write_row(2, 0, [" 姓 名 ", *ROSTER_HEADER[1:]])
    row = 3
    for number in (13912340001, 320505198001010017, 1.5, -3, 0, 46447, 46447.375, 0.375, 1.5, 3e20, 1e-7, -1, 30,
                   9999999):
        ws.write_string(row, 0, f"数{row}")
        ws.write_number(row, 1, number)
        for column, style in enumerate(formats, start=2):
            ws.write_number(row, column, number, style)
        row += 1
    ws.write_datetime(row, 1, datetime(2027, 3, 1, 9, 5), formats[0])
    ws.write_datetime(row, 2, datetime(2027, 3, 1), formats[1])
    ws.write_boolean(row, 3, True)
    ws.write_formula(row, 4, "=NA()", None, "#N/A")
    ws.write_formula(row, 5, "=1+1", None, 2)
    ws.write_formula(row, 6, '="JZ"&"-1"', None, "JZ-1")
    ws.write_formula(row, 7, "=1+1")
    row += 1
    ws.write_rich_string(row, 0, "周", bold, "一", "尾")
    ws.write_string(row, 1, "  公司 B  ")
    ws.write_string(row, 2, "公司\nC")
    ws.write_string(row, 3, "_x000D_公司")
    ws.write_string(row, 4, "=1+1")
    ws.write_blank(row, 5, None, formats[1])
    ws.write_string(row, 6, "   ")
    ws.write_string(row + 6, 0, "远行")
    ws.write_string(row + 6, 30, "远列")
    book.close()
    return path


def openpyxl_book(path: Path) -> Path:
    """Inline strings, ints past a float's precision, dates, times, durations, rich text, a formula."""
    workbook = Workbook()
    ws = workbook.active
    ws.append(ROSTER_HEADER)
    ws.append(["周一", 320505198001010017, 13912340001, "公司", "建筑工程", "主项", date(2027, 3, 1), None])
    ws.append(["吴二", "320505198001010017", 13912340002.0, "公司", "建筑工程", "主项", datetime(2027, 3, 1, 9, 5),
               "=A1"])
    ws.append(["张三", "x", 1, "公司", "建筑工程", "主项", clock(9, 5), timedelta(hours=30)])
    ws.append(["李四", True, False, CellRichText(["a", TextBlock(InlineFont(b=True), "b")]), None, None, 0, -0.0])
    ws["A20"] = "合计"
    workbook.save(path)
    return path


def handmade(tmp_path: Path, name: str, body: str, head: str = '<?xml version="1.0" encoding="UTF-8"?>') -> Path:
    """A roster whose sheet is `body` (the rows), in a workbook openpyxl wrote."""
    xml = f"{head}<worksheet {MAIN}><sheetData>{body}</sheetData></worksheet>"
    return replaced(write_roster(tmp_path / f"{name}-template.xlsx", [roster_row()]), tmp_path / f"{name}.xlsx",
                    SHEET, xml.encode())


def ref(column: int, number: int, with_r: bool) -> str:
    return f' r="{chr(65 + column)}{number}"' if with_r else ""


def header_cells(number: int, with_r: bool = True) -> str:
    return text_cells(number, ROSTER_HEADER, with_r)


def text_cells(number: int, values: list[str], with_r: bool = True) -> str:
    return "".join(f'<c{ref(i, number, with_r)} t="inlineStr"><is><t>{v}</t></is></c>' for i, v in enumerate(values))


HANDMADE = {
    "no_r": f"<row>{header_cells(1, False)}</row><row>{text_cells(0, ROW, False)}</row><row></row>"
            f"<row>{text_cells(0, ROW, False)}</row>",
    "out_of_order": f'<row r="1">{header_cells(1)}</row><row r="5">{text_cells(5, ROW)}</row>'
                    f'<row r="3">{text_cells(3, ROW)}</row><row r="5">{text_cells(5, ROW)}</row>'
                    f'<row r="7"><c r="C7"><v>1</v></c><c r="A7"><v>2</v></c></row><row r="8"></row>',
    "row_as_float": f'<row r="1.0">{header_cells(1)}</row><row r="2.0">{text_cells(2, ROW)}</row>',
    "types": f'<row r="1">{header_cells(1)}</row><row r="2"><c r="A2" t="e"><v>#N/A</v></c>'
             '<c r="B2" t="str"><v>abc</v></c><c r="C2" t="d"><v>2027-03-01T09:05:00</v></c><c r="D2" t="b"><v>1</v></c>'
             '<c r="E2" t="d"><v>2027-03-01</v></c><c r="F2"><v> 12 </v></c><c r="G2"><v>1e3</v></c>'
             '<c r="H2"><v>١٢</v></c><c r="I2" t="x"><v>y</v></c><c r="J2" t="n"><v></v></c>'
             '<c r="K2"><v>320505198001010017</v></c></row>',
    "markup": f'<row r="1">{header_cells(1)}</row><row r="2"><c r="A2" t="inlineStr"><is><t><![CDATA[周<一>]]>'
              '&amp;&#x4E2D;</t></is></c><c r="B2" t="str"><v><![CDATA[ab]]>c</v></c><!-- x --><c r="C2"><!-- y -->'
              '<v>5</v></c><c r="D2"><v>1<b/>2</v><v>9</v></c><c r="e2"><v>3</v></c></row>',
    "runs": f'<row r="1">{header_cells(1)}</row><row r="2"><c r="A2" t="inlineStr"><is><r><rPr><b/></rPr><t>周</t></r>'
            '<r><t xml:space="preserve"> 一 </t></r><rPh sb="0" eb="1"><t>zhou</t></rPh><phoneticPr fontId="1"/></is></c>'
            '<c r="B2" t="inlineStr"><is><t>a</t><t>b</t></is></c><c r="C2" t="inlineStr"></c>'
            '<c r="D2" t="inlineStr"><is><t>x<b>y</b>z</t></is><is><t>second</t></is></c>'
            '<c r="E2" t="inlineStr"><is><t>p</t><r><t>q</t></r><t>s</t></is></c><c r="F2" t="inlineStr"><is></is></c>'
            '<c r="G2" t="inlineStr"><is><t/></is></c><c r="H2" t="inlineStr"><v>7</v></c></row>',
    "far": f'<row r="1">{header_cells(1)}</row><row r="2">{text_cells(2, ROW)}<c r="XFD2"><v>1</v></c></row>'
           '<row r="5000"><c r="A5000"><v>1</v></c></row>',
    "doctype": f'<row r="1">{header_cells(1)}</row><row r="2">{text_cells(2, ROW)}</row>',
}


def prefixed(tmp_path: Path) -> Path:
    """Elements with a prefix (x:c), as .NET's Open XML SDK writes them."""
    xml = ('<?xml version="1.0"?><x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           '<x:sheetData><x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>姓名</x:t></x:is></x:c></x:row>'
           '<x:row r="2"><x:c r="A2" t="inlineStr"><x:is><x:r><x:t>周</x:t></x:r></x:is></x:c><x:c r="B2"><x:v>12</x:v>'
           '</x:c></x:row></x:sheetData></x:worksheet>')
    return replaced(write_roster(tmp_path / "p-template.xlsx", [roster_row()]), tmp_path / "prefixed.xlsx", SHEET,
                    xml.encode())


def with_shared_strings(tmp_path: Path, name: str, items: str) -> Path:
    """An XlsxWriter workbook (shared strings) whose table is `items` (the <si> elements)."""
    book = xlsxwriter.Workbook(str(tmp_path / f"{name}-template.xlsx"))
    ws = book.add_worksheet()
    for column, value in enumerate(["周一", "吴二", "张三", "李四"]):
        ws.write_string(0, column, value)
    book.close()
    table = f'<?xml version="1.0"?><sst {MAIN} count="4" uniqueCount="4">{items}</sst>'
    return replaced(tmp_path / f"{name}-template.xlsx", tmp_path / f"{name}.xlsx", "xl/sharedStrings.xml",
                    table.encode())


def cases(tmp_path: Path) -> dict[str, Path]:
    files = {
        "xlsxwriter": xlsxwriter_book(tmp_path / "xw.xlsx"),
        "xlsxwriter_1904": xlsxwriter_book(tmp_path / "xw1904.xlsx", {"date_1904": True}),
        "openpyxl": openpyxl_book(tmp_path / "opx.xlsx"),
        "roster_sample": SAMPLES / "roster-sample.xlsx",
        "catalog_sample": SAMPLES / "catalog-sample.xlsx",
        "prefixed": prefixed(tmp_path),
        "rich_shared_strings": with_shared_strings(
            tmp_path, "rich", '<si><r><rPr><b/></rPr><t>周</t></r><r><t>一</t></r><rPh sb="0" eb="1"><t>zhou</t></rPh></si>'
            '<si><t>吴_x005F_x000D_二x005F_</t></si><si><t>张<i>x</i>三</t></si><si><t>李四</t><si><t>内</t></si></si>'),
    }
    for name, body in HANDMADE.items():
        head = '<?xml version="1.0"?><!DOCTYPE worksheet>' if name == "doctype" else '<?xml version="1.0"?>'
        files[name] = handmade(tmp_path, name, body, head)
    workbook = Workbook()
    workbook.epoch = datetime(1904, 1, 1)
    workbook.active.append([date(2027, 3, 1), datetime(2027, 3, 1, 9, 5), 46447])
    workbook.save(tmp_path / "opx1904.xlsx")
    files["openpyxl_1904"] = tmp_path / "opx1904.xlsx"
    return files


CASES = ["xlsxwriter", "xlsxwriter_1904", "openpyxl", "openpyxl_1904", "roster_sample", "catalog_sample", "prefixed",
         "rich_shared_strings", *HANDMADE]


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory) -> dict[str, Path]:
    return cases(tmp_path_factory.mktemp("workbooks"))


@pytest.mark.filterwarnings("ignore:Cell .* is marked as a date")  # openpyxl's, for "#VALUE!"
@pytest.mark.parametrize("case", CASES)
def test_every_row_is_read_as_openpyxl_reads_it(workbooks, case):
    path = workbooks[case]
    expected = openpyxl_rows(path)
    assert expected, case
    assert typed(our_rows(path)) == typed(expected)


@pytest.mark.filterwarnings("ignore:Cell .* is marked as a date")
def test_values_that_matter_to_the_imports_are_typed_as_before(tmp_path):
    rows = our_rows(handmade(tmp_path, "types", HANDMADE["types"]))
    assert rows[1][0] == "#N/A" and rows[1][10] == 320505198001010017  # an 18-digit number keeps every digit
    assert rows[1][2] == datetime(2027, 3, 1, 9, 5) and rows[1][3] is True
    rows = our_rows(openpyxl_book(tmp_path / "opx.xlsx"))
    assert rows[1][2] == 13912340001 and type(rows[1][2]) is int
    assert rows[1][6] == datetime(2027, 3, 1) and type(rows[1][6]) is datetime  # a date cell is a datetime
    assert rows[2][2] == 13912340002 and type(rows[2][2]) is int  # openpyxl writes 13912340002.0 as "13912340002"
    assert rows[3][6:8] == (clock(9, 5), timedelta(hours=30))
    workbook = xlsxwriter_book(tmp_path / "xw.xlsx")
    error_row = next(row for row in our_rows(workbook) if len(row) > 3 and row[3] is True)
    assert error_row[4:8] == ("#N/A", 2, "JZ-1", 0)  # cached results of formulas (XlsxWriter caches 0 when not told)


def test_a_fault_after_the_rows_read_is_not_met_where_reading_stops(tmp_path):
    # ElementTree's iterparse hands over the rows before a fault first: the blank-run stop (or the header
    # search) never meets broken XML below it, now as before.
    body = f'<row r="1">{header_cells(1)}</row><row r="2">{text_cells(2, ROW)}</row>'
    body += "".join(f'<row r="{n}"></row>' for n in range(3, 400)) + "<row><c>"
    path = handmade(tmp_path, "late", body)
    assert [row.number for row in sheet.read_sheet(path, COLUMNS)] == [2]
    path = handmade(tmp_path, "early", f'<row r="1">{header_cells(1)}</row><row r="2">{text_cells(2, ROW)}</row><row><c>')
    with pytest.raises(UnreadableFile, match="已损坏"):
        sheet.read_sheet(path, COLUMNS)


@pytest.mark.parametrize("cell", ['<c r="A2" s="abc"><v>1</v></c>', '<c r="A1B"><v>1</v></c>', '<c r="A2"><v>0x1</v></c>',
                                  '<c r="A2" t="s"><v>99</v></c>', '<c r="A2" t="b"><v>x</v></c>'])
def test_a_cell_openpyxl_cannot_read_makes_the_file_unreadable(tmp_path, cell):
    path = handmade(tmp_path, "bad", f'<row r="1">{header_cells(1)}</row><row r="2">{cell}</row>')
    with pytest.raises(ValueError if "t=\"s\"" not in cell else IndexError):
        openpyxl_rows(path)
    with pytest.raises(UnreadableFile, match="已损坏"):
        sheet.read_sheet(path, COLUMNS)


LAUGHS_DTD = BILLION_LAUGHS.split("]>")[0] + "]>"


@pytest.mark.parametrize("part, xml", [
    (SHEET, f'{LAUGHS_DTD}<worksheet {MAIN}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c>'
            "</row></sheetData></worksheet>"),
    (SHEET, f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "周一">]><worksheet {MAIN}><sheetData/></worksheet>'),
    (SHEET, f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><worksheet {MAIN}/>'),
    (SHEET, f'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd"><worksheet {MAIN}><sheetData>'
            '<row r="1"><c r="A1" t="inlineStr"><is><t>&passwd;</t></is></c></row></sheetData></worksheet>'),
    ("xl/sharedStrings.xml", f'{LAUGHS_DTD}<sst {MAIN}><si><t>&lol9;</t></si></sst>'),
])
def test_no_entity_is_declared_or_expanded_in_a_sheet_or_the_shared_strings(tmp_path, part, xml):
    template = with_shared_strings(tmp_path, "ss", "<si><t>周一</t></si>" * 4)
    path = replaced(template, tmp_path / "entities.xlsx", part, xml.encode())
    started = time.monotonic()
    with pytest.raises(UnreadableFile) as refused:
        sheet.read_sheet(path, COLUMNS)
    assert time.monotonic() - started < 2
    assert "\n" not in refused.value.message and "lol" not in refused.value.message
    with pytest.raises(Exception):  # noqa: B017 (defusedxml's own refusal, or ElementTree's undefined entity)
        openpyxl_rows(path)


def test_the_sheet_parser_refuses_an_entity_declaration_before_any_row():
    xml = f'{LAUGHS_DTD}<worksheet {MAIN}><sheetData><row r="1"><c r="A1"><v>1</v></c></row></sheetData></worksheet>'
    rows = sheet_rows(io.BytesIO(xml.encode()), [], datetime(1899, 12, 30), set(), set())
    with pytest.raises(ForbiddenXml):
        next(rows)


def test_openpyxl_parses_neither_the_sheet_nor_the_shared_strings(tmp_path, monkeypatch):
    # The slow path (an element and an object per cell) stays out of the imports.
    def slow(*_args, **_kwargs):
        raise AssertionError("openpyxl's own parser was used")

    monkeypatch.setattr("openpyxl.worksheet._reader.WorkSheetParser.parse", slow)
    monkeypatch.setattr("openpyxl.reader.excel.read_string_table", slow)
    path = with_shared_strings(tmp_path, "ss", "".join(f"<si><t>{h}</t></si>" for h in ROSTER_HEADER[:4]))
    assert sheet._open(path).worksheets[0].row_values(min_row=1, max_row=1)
    assert [row.number for row in sheet.read_sheet(write_roster(tmp_path / "r.xlsx", [roster_row()]), COLUMNS)] == [2]


def test_a_sheet_is_read_as_a_stream(tmp_path, monkeypatch):
    # 20,000 rows, but the header search reads one chunk of the sheet and the data stop at the blank run.
    path = tmp_path / "long.xlsx"
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = book.add_worksheet()
    ws.write_row(0, 0, ROSTER_HEADER)
    ws.write_row(1, 0, roster_row())
    for row in range(300, 20_300):
        ws.write_string(row, 0, "备注")
    book.close()
    member = zipfile.ZipFile(path).getinfo(SHEET).file_size
    reads: list[int] = []
    original = zipfile.ZipExtFile.read

    def counted(self, n=-1):
        data = original(self, n)
        if self.name == SHEET:
            reads.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counted)
    assert [row.number for row in sheet.read_sheet(path, COLUMNS)] == [2]
    assert 0 < sum(reads) < member / 4
