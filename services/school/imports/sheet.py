"""Reading the first sheet of an import workbook (CONTRACT §6), or a named one, into numbered rows.

The header is the first row, within the first ten, that names every expected column; title
rows above it and blank rows anywhere are skipped. Workbooks saved by Excel often claim
thousands of rows (formatted but empty), so the stored dimension is ignored and reading stops
after a long run of blank rows.

openpyxl's read-only reader opens the workbook (content types, workbook, relationships, styles:
small parts, parsed by defusedxml); the two large parts, the shared strings and the sheet's rows,
are read by sheet_xml straight from the stdlib's expat parser, with the values openpyxl's reader
gives (`data_only`) but without its objects per cell: a 10,000-row roster in ~0.3 s of CPU, not ~0.9.

A file staff upload may be hostile or broken, and must not take the server down: before openpyxl
opens it, the zip's declared sizes are checked (Python's zipfile never inflates a member past its
declared size), a sheet is read as a stream and at most MAX_ROWS data rows, no XML entity is
declared or expanded (defusedxml for the small parts, the same refusals in sheet_xml), and anything
wrong with the file is one line of UnreadableFile.
"""
from __future__ import annotations

import logging
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from openpyxl import Workbook
from openpyxl.reader.excel import ExcelReader
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.xml.constants import SHARED_STRINGS

from services import ServiceError
from services.logfmt import kv
from services.school.imports.sheet_xml import Cells, shared_strings, sheet_rows

T = TypeVar("T")

log = logging.getLogger(__name__)

HEADER_SEARCH_ROWS = 10
# A gap this long between two data rows is not a roster any more: it is Excel's formatted void.
BLANK_RUN_LIMIT = 200
MAX_ROWS = 50_000  # data rows of one file; a larger roster is split by whoever made it
# The archive: members, total inflated size, and how much a large member may inflate (Excel's own
# files stay under ~20x; a zip bomb is thousands).
MAX_MEMBERS = 10_000
MAX_INFLATED = 256 * 1024 * 1024
MAX_RATIO = 100
RATIO_FROM = 1024 * 1024  # small members may compress well without harm


class UnreadableFile(ServiceError):
    """The file itself can't be imported (missing, not an .xlsx, no header row)."""


@dataclass
class ImportReport:
    """What an import did, counted per data row; `rejected` holds (Excel row number, reason),
    `outcomes` what became of each accepted row (created, updated or unchanged) where the import
    tells (the roster's, for the console's preview)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    outcomes: dict[int, str] = field(default_factory=dict)

    def reject(self, number: int, reason: str) -> None:
        self.rejected.append((number, reason))

    def count(self, number: int, outcome: str) -> None:
        """Counts row `number` as `created`, `updated` or `unchanged`."""
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.outcomes[number] = outcome

    def summary(self) -> str:
        """`新增 3，更新 1，未变 0，拒绝 2`: the counts as commands print them and the audit log keeps them."""
        return f"新增 {self.created}，更新 {self.updated}，未变 {self.unchanged}，拒绝 {len(self.rejected)}"

    def accepted(self, rows: Iterable[SheetRow], parse: Callable[[SheetRow, list[str]], T | None]) -> Iterator[T]:
        """The rows `parse` accepts; a row it adds errors for is rejected with all of them."""
        for row in rows:
            errors: list[str] = []
            line = parse(row, errors)
            if errors:
                self.reject(row.number, "；".join(errors))
            elif line is not None:
                yield line


@dataclass(frozen=True)
class SheetRow:
    number: int  # Excel's 1-based row number, as staff see it
    cells: dict[str, object]

    def __getitem__(self, column: str) -> object:
        return self.cells[column]


def header_key(value: object) -> str:
    """Header cells compared without spaces and with full-width brackets made half-width."""
    if value is None:
        return ""
    return "".join(unicodedata.normalize("NFKC", str(value)).split())


def read_sheet(path: str | Path, columns: tuple[str, ...]) -> list[SheetRow]:
    """The non-blank data rows below the header, each cell keyed by its column name."""
    return _read(path, columns, None) or []


def read_named_sheet(path: str | Path, name: str, columns: tuple[str, ...]) -> list[SheetRow] | None:
    """Like read_sheet, from the sheet called `name`; None when the workbook has no such sheet."""
    return _read(path, columns, name)


def _read(path: str | Path, columns: tuple[str, ...], name: str | None) -> list[SheetRow] | None:
    path = Path(path)
    workbook = _open(path)
    try:
        if name is not None and name not in workbook.sheetnames:
            return None
        sheet = workbook.worksheets[0] if name is None else workbook[name]
        if not isinstance(sheet, _StreamedSheet):
            raise TypeError("a chartsheet")  # called `name`: no worksheet, as below
        header_number, positions = _find_header(sheet, columns, "第一个工作表" if name is None else f"工作表“{name}”")
        return _data_rows(sheet, header_number, positions)
    except UnreadableFile:
        raise
    except Exception as exc:  # noqa: BLE001 (any damage in a file staff upload is one line, not a traceback)
        # No worksheet at all, or XML / zip damage that only shows while reading the rows.
        log.debug(kv("import_unreadable", file=path.name, error=type(exc).__name__))
        raise UnreadableFile(f"文件 {path.name} 已损坏或没有工作表，无法读取") from None
    finally:
        workbook.close()


def _open(path: Path) -> Workbook:
    if not path.is_file():
        raise UnreadableFile(f"找不到文件：{path}")
    _check_archive(path)
    try:
        reader = _Reader(path, read_only=True, data_only=True)
        reader.read()
        return reader.wb
    except Exception as exc:  # noqa: BLE001 (openpyxl raises a dozen kinds for a bad file)
        log.debug(kv("import_unreadable", file=path.name, error=type(exc).__name__))
        raise UnreadableFile(f"无法读取文件 {path.name}：请确认是 Excel 的 .xlsx 格式（不支持 .xls、.csv）") from None


class _StreamedSheet(ReadOnlyWorksheet):
    """A read-only sheet whose rows come from sheet_xml; openpyxl's look for the sheet's size is
    skipped (a file without a <dimension>, openpyxl's own, would be parsed once more, in full, for
    a size that is ignored here anyway)."""

    def __init__(self, reader: _Reader, title: str, path: str) -> None:
        self._archive = reader.archive
        self._path = path
        self._strings = reader.shared_strings
        self._epoch = reader.wb.epoch
        # What apply_stylesheet found in the workbook's styles (style ids of date and duration formats).
        self._date_formats = getattr(reader.wb, "_date_formats", {})
        self._timedelta_formats = getattr(reader.wb, "_timedelta_formats", {})
        super().__init__(reader.wb, title, path, reader.shared_strings)

    def _get_size(self) -> None:
        pass

    def row_values(self, min_row: int, max_row: int | None = None,
                   max_col: int | None = None) -> Iterator[tuple[object, ...]]:
        """The values of rows `min_row` to `max_row` (to the last when None), a missing row as an empty
        one, each `max_col` wide (when None: to its last cell): what openpyxl's
        `iter_rows(min_row=, max_row=, max_col=, values_only=True)` gives after `reset_dimensions()`."""
        empty_row: tuple[object, ...] = () if max_col is None else (None,) * max_col
        counter = min_row
        number = 1
        with self._archive.open(self._path) as source:
            rows = sheet_rows(source, self._strings, self._epoch, self._date_formats, self._timedelta_formats)
            for number, cells in rows:
                if max_row is not None and number > max_row:
                    break
                for _ in range(counter, number):  # rows the file leaves out
                    counter += 1
                    yield empty_row
                if counter <= number:  # a row out of order, or twice, is skipped, as openpyxl does
                    counter += 1
                    yield _values(cells, max_col)
        if max_row is not None and max_row < number:
            for _ in range(counter, max_row + 1):
                yield empty_row


def _values(cells: Cells, max_col: int | None) -> tuple[object, ...]:
    """A row's values by column from 1, as openpyxl's ReadOnlyWorksheet._get_row (values only)."""
    if not cells and not max_col:
        return ()
    width = max_col or cells[-1][0]
    values: list[object] = [None] * width
    for column, value in cells:
        if 1 <= column <= width:
            values[column - 1] = value
    return tuple(values)


class _Reader(ExcelReader):
    """openpyxl's read-only reader (load_workbook(read_only=True, data_only=True)), its shared strings
    and sheets read by sheet_xml."""

    def read_strings(self) -> None:
        part = self.package.find(SHARED_STRINGS)  # type: ignore[no-untyped-call]  # openpyxl's, untyped
        if part is not None:
            with self.archive.open(part.PartName[1:]) as source:
                self.shared_strings = shared_strings(source)

    def read_worksheets(self) -> None:
        for sheet, rel in self.parser.find_sheets():
            if rel.target not in self.valid_files:
                continue
            if "chartsheet" in rel.Type:
                self.read_chartsheet(sheet, rel)  # type: ignore[arg-type]  # as openpyxl's own call
                continue
            worksheet = _StreamedSheet(self, sheet.name, rel.target)
            worksheet.sheet_state = sheet.state or "visible"
            self.wb._sheets.append(worksheet)  # type: ignore[attr-defined]  # as openpyxl's own reader


def _check_archive(path: Path) -> None:
    """Refuses what isn't a zip, or a zip that would inflate past reason, before anything inflates it."""
    not_xlsx = f"无法读取文件 {path.name}：请确认是 Excel 的 .xlsx 格式（不支持 .xls、.csv）"
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise UnreadableFile(not_xlsx) from None
    too_big = f"文件 {path.name} 解压后过大，不像正常的报名表，未导入"
    if len(members) > MAX_MEMBERS or sum(m.file_size for m in members) > MAX_INFLATED:
        raise UnreadableFile(too_big)
    for member in members:
        if member.file_size > RATIO_FROM and member.file_size > MAX_RATIO * max(member.compress_size, 1):
            raise UnreadableFile(too_big)


def _find_header(sheet: _StreamedSheet, columns: tuple[str, ...], where: str) -> tuple[int, dict[str, int]]:
    wanted = {header_key(name): name for name in columns}
    rows = sheet.row_values(min_row=1, max_row=HEADER_SEARCH_ROWS)
    for number, values in enumerate(rows, start=1):
        found = {}
        for index, value in enumerate(values):
            name = wanted.get(header_key(value))
            if name is not None and name not in found:
                found[name] = index
        if len(found) == len(columns):
            return number, found
    raise UnreadableFile(
        f"{where}的前{HEADER_SEARCH_ROWS}行中找不到表头，表头应包含以下各列：{'、'.join(columns)}"
    )


def _data_rows(sheet: _StreamedSheet, header_number: int, positions: dict[str, int]) -> list[SheetRow]:
    width = max(positions.values()) + 1
    result: list[SheetRow] = []
    blank_run = 0
    rows = sheet.row_values(min_row=header_number + 1, max_col=width)
    for number, values in enumerate(rows, start=header_number + 1):
        cells = {name: _clean(values[index]) for name, index in positions.items()}
        if all(value is None for value in cells.values()):
            blank_run += 1
            if blank_run >= BLANK_RUN_LIMIT:
                break
            continue
        blank_run = 0
        if len(result) >= MAX_ROWS:
            raise UnreadableFile(f"文件数据超过 {MAX_ROWS} 行，请拆分成几个文件分别导入")
        result.append(SheetRow(number, cells))
    return result


def _clean(value: object) -> object:
    """Blank text counts as an empty cell."""
    if isinstance(value, str) and not value.strip():
        return None
    return value
