"""A worksheet's rows and the shared-string table read straight from the stdlib's expat parser (C).

openpyxl's read-only reader builds an element and a typed object for every cell and every shared
string before it hands over a value: for a 10,000-row roster, most of a second. These two readers
take the values from expat's callbacks instead, and read each part as openpyxl's read-only reader
does with `data_only=True` (the cached result of a formula, rich text flattened):

- a row is any `<row>` of the main namespace, numbered by its `r`, else one past the previous row;
  every child of a row is a cell, in the column of its `r`, else one past the previous cell's;
- a cell's value is its first `<v>` cast by its `t`: numbers as int or float (as dates, with
  openpyxl's `from_excel` and the workbook's epoch, when the cell's style is a date format), `s`
  from the shared strings, `b` as bool, `d` as ISO 8601, any other type (`str`, the error codes of
  `e`) as the text; `inlineStr` is the text of its first `<is>`;
- a string (`<si>`, `<is>`) is its `<t>` then the `<t>` of each run (`<r>`); phonetic runs are left
  out; an element's text is what precedes its first child, as in ElementTree.

Only the rows are read. The sheet's other parts (column widths, merged cells, views, page setup) are
not, where openpyxl built objects of them and refused a file with a value out of their range; a
`<row>` inside a row, which openpyxl read as two rows, is damage here.

A part is read in 16 KiB chunks, as ElementTree's iterparse reads it, and a sheet's rows are handed
over chunk by chunk: reading stops where the caller stops. As with defusedxml, an entity declaration
or an external entity is refused and an undefined entity is an error (ElementTree's): no entity is
ever expanded (billion laughs, XXE). A DTD without entities is read past, as before.
"""
from __future__ import annotations

from collections.abc import Container, Iterator, Sequence
from datetime import datetime
from typing import IO, NoReturn, Protocol
from xml.parsers import expat

from openpyxl.utils.cell import column_index_from_string, coordinate_to_tuple
from openpyxl.utils.datetime import from_excel, from_ISO8601
from openpyxl.xml.constants import SHEET_MAIN_NS

CHUNK = 16 * 1024  # what ElementTree's iterparse reads at a time
_MAIN = SHEET_MAIN_NS + "}"  # expat names a namespaced element "namespace}local"
ROW, VALUE, INLINE, SHARED = _MAIN + "row", _MAIN + "v", _MAIN + "is", _MAIN + "si"

Cells = list[tuple[int, object]]  # (column, value) of each cell of a row, in the file's order


class ForbiddenXml(ValueError):
    """An entity declaration, an external entity or an undefined entity."""


def _refuse(*_args: object) -> NoReturn:
    raise ForbiddenXml("entity declarations and external entities are not read")


def _undefined_entity(data: str) -> None:
    # Where ElementTree's parser meets an undefined entity (a document with a DTD) and raises.
    if data[:1] == "&":
        raise ForbiddenXml(f"undefined entity {data[:40]}")


class _Handlers(Protocol):
    def start(self, name: str, attrs: dict[str, str]) -> None: ...
    def end(self, name: str) -> None: ...
    def characters(self, data: str) -> None: ...


def _parser(handlers: _Handlers) -> expat.XMLParserType:
    """expat as ElementTree's XMLParser makes it, with defusedxml's refusals, calling `handlers`."""
    parser = expat.ParserCreate(None, "}")
    parser.buffer_text = True
    parser.StartElementHandler = handlers.start
    parser.EndElementHandler = handlers.end
    parser.CharacterDataHandler = handlers.characters
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.DefaultHandlerExpand = _undefined_entity
    return parser


def _feed(parser: expat.XMLParserType, source: IO[bytes], done: list[object]) -> Iterator[list[object]]:
    """Feeds `source` to `parser` a chunk at a time, handing over what the handlers put in `done`.

    What precedes a fault (bad XML, a value openpyxl can't read) is handed over before the fault is
    raised, as ElementTree's iterparse queues the error behind the events before it: a reader that
    stops first (the blank-run stop, the header search) never meets it."""
    while True:
        data = source.read(CHUNK)
        try:
            parser.Parse(data, not data)
        except Exception:
            if done:
                yield done[:]
            raise
        if done:
            yield done[:]
            done.clear()
        if not data:
            return


def _cast_number(text: str) -> int | float:
    """A number's text as openpyxl casts it: an int unless it has a point or an exponent."""
    if "." in text or "E" in text or "e" in text:
        return float(text)
    return int(text)


class _Text:
    """The text of an `<si>` or `<is>` at `depth`, as openpyxl's Text.from_tree(...).content reads it:
    its `<t>` then each run's `<t>` (any namespace; of two `<t>` on one level, the last counts)."""

    __slots__ = ("depth", "open", "plain", "runs", "in_run", "capturing", "captured")

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.open = True
        self.plain: str | None = None
        self.runs: list[str | None] = []
        self.in_run = False
        self.capturing = 0  # depth of the <t> whose text is being read; 0 when none
        self.captured = ""

    def start(self, name: str, depth: int) -> None:
        if self.capturing:
            self._commit()  # a child inside <t>: the <t>'s text ends here
        if depth == self.depth + 1:
            local = name.rpartition("}")[2]
            if local == "t":
                self.capturing, self.captured = depth, ""
            elif local == "r":
                self.in_run = True
                self.runs.append(None)
        elif depth == self.depth + 2 and self.in_run and name.rpartition("}")[2] == "t":
            self.capturing, self.captured = depth, ""

    def end(self, depth: int) -> None:
        if depth == self.capturing:
            self._commit()
        if depth == self.depth + 1:
            self.in_run = False

    def _commit(self) -> None:
        text = self.captured or None
        if self.capturing == self.depth + 1:
            self.plain = text
        else:
            self.runs[-1] = text
        self.capturing = 0

    def content(self) -> str:
        if not self.runs:
            return self.plain or ""
        return "".join([self.plain or "", *(run for run in self.runs if run is not None)])


class _Strings:
    """expat's handlers reading a shared-string table: each `<si>` (any depth) as one string, an `<si>`
    inside another before it (ElementTree's end events come in that order)."""

    __slots__ = ("depth", "text", "outer", "done")

    def __init__(self) -> None:
        self.depth = 0
        self.text: _Text | None = None
        self.outer: list[_Text] = []  # the <si> around the one being read
        self.done: list[object] = []

    def start(self, name: str, _attrs: dict[str, str]) -> None:
        self.depth += 1
        if self.text is not None:
            self.text.start(name, self.depth)
        if name == SHARED:
            if self.text is not None:
                self.outer.append(self.text)
            self.text = _Text(self.depth)

    def end(self, _name: str) -> None:
        text = self.text
        if text is not None:
            if self.depth == text.depth:
                self.done.append(text.content().replace("x005F_", ""))
                self.text = self.outer.pop() if self.outer else None
                if self.text is not None:
                    self.text.end(self.depth)
            else:
                text.end(self.depth)
        self.depth -= 1

    def characters(self, data: str) -> None:
        text = self.text
        if text is not None and text.capturing:
            text.captured += data


def shared_strings(source: IO[bytes]) -> list[str]:
    """The shared-string table (xl/sharedStrings.xml) as openpyxl's read_string_table reads it."""
    handlers = _Strings()
    table: list[str] = []
    for batch in _feed(_parser(handlers), source, handlers.done):
        table.extend(batch)  # type: ignore[arg-type]  # _Strings.end puts strings in `done`
    return table


class _Sheet:
    """expat's handlers reading a worksheet: each `<row>`'s number and cells, into `done`."""

    __slots__ = ("strings", "epoch", "date_formats", "timedelta_formats", "done", "depth", "row_depth",
                 "row_number", "column", "cells", "cell", "value", "value_seen", "captured", "text")

    def __init__(self, strings: Sequence[str], epoch: datetime, date_formats: Container[object],
                 timedelta_formats: Container[object]) -> None:
        self.strings, self.epoch = strings, epoch
        self.date_formats, self.timedelta_formats = date_formats, timedelta_formats
        self.done: list[object] = []
        self.depth = 0
        self.row_depth = 0  # depth of the <row> being read; 0 outside rows
        self.row_number = self.column = 0
        self.cells: Cells = []
        self.cell: dict[str, str] = {}  # the attributes of the cell being read
        self.value: str | None = None  # the text of its first <v> (openpyxl reads that one)
        self.value_seen = False
        self.captured: str | None = None  # the text of that <v> while it is read
        self.text: _Text | None = None  # its first <is>

    def start(self, name: str, attrs: dict[str, str]) -> None:
        depth = self.depth = self.depth + 1
        if self.captured is not None:
            self._end_value()  # a child inside <v>: the <v>'s text ends here
        text, row_depth = self.text, self.row_depth
        if text is not None and text.open:
            text.start(name, depth)
        elif not row_depth:
            if name == ROW:
                self.row_depth, self.row_number = depth, _row_number(attrs.get("r"), self.row_number)
                self.column, self.cells = 0, []
        elif depth == row_depth + 1:  # any child of a row is a cell
            self.cell, self.value, self.value_seen, self.text = attrs, None, False, None
        elif depth == row_depth + 2:
            if name == VALUE and not self.value_seen:
                self.value_seen, self.captured = True, ""
            elif name == INLINE and text is None:
                self.text = _Text(depth)

    def end(self, _name: str) -> None:
        depth = self.depth
        self.depth = depth - 1
        if self.captured is not None:  # the end of <v>
            self.value, self.captured = self.captured or None, None
            return
        text = self.text
        if text is not None and text.open:
            if depth == text.depth:
                text.open = False
            else:
                text.end(depth)
        elif self.row_depth:
            if depth == self.row_depth + 1:
                self._add_cell()
            elif depth == self.row_depth:
                self.done.append((self.row_number, self.cells))
                self.row_depth = 0

    def characters(self, data: str) -> None:
        if self.captured is not None:
            self.captured += data
        elif self.text is not None and self.text.capturing:
            self.text.captured += data

    def _end_value(self) -> None:
        self.value, self.captured = self.captured or None, None

    def _add_cell(self) -> None:
        cell = self.cell
        data_type = cell.get("t", "n")
        style: int | str = cell.get("s", 0)
        if style:
            style = int(style)
        coordinate = cell.get("r")
        if not coordinate:
            self.column += 1
        else:
            letters = coordinate.rstrip("0123456789")
            if letters != coordinate and letters.isalpha() and letters.isascii():
                self.column = column_index_from_string(letters)  # coordinate_to_tuple's, without its loop
            else:
                self.column = coordinate_to_tuple(coordinate)[1]  # openpyxl's answer, or its refusal
        value: object = None
        if data_type == "inlineStr":
            if self.text is not None:
                value = self.text.content()
        elif self.value is not None:
            value = self._typed(self.value, data_type, style)
        self.cells.append((self.column, value))

    def _typed(self, text: str, data_type: str, style: int | str) -> object:
        if data_type == "s":
            return self.strings[int(text)]
        if data_type == "n":
            number = _cast_number(text)
            if style in self.date_formats:
                try:
                    return from_excel(number, self.epoch, timedelta=style in self.timedelta_formats)
                except (OverflowError, ValueError):
                    return "#VALUE!"  # as openpyxl: a date past the calendar's limits is an error cell
            return number
        if data_type == "b":
            return bool(int(text))
        if data_type == "d":
            return from_ISO8601(text)  # type: ignore[no-untyped-call]  # openpyxl's, untyped
        return text  # "str" (a formula's text), "e" (an error code) or a type openpyxl doesn't know


def sheet_rows(source: IO[bytes], strings: Sequence[str], epoch: datetime, date_formats: Container[object],
               timedelta_formats: Container[object]) -> Iterator[tuple[int, Cells]]:
    """(row number, cells) of each row of a worksheet part, in the file's order, numbered and typed
    as openpyxl's WorkSheetParser does (data_only)."""
    handlers = _Sheet(strings, epoch, date_formats, timedelta_formats)
    for batch in _feed(_parser(handlers), source, handlers.done):
        yield from batch  # type: ignore[misc]  # _Sheet.end puts (row number, cells) pairs in `done`


def _row_number(r: str | None, previous: int) -> int:
    """A row's number as openpyxl reads its `r`: an int, or a float without a fraction; else the next."""
    if r is None:
        return previous + 1
    try:
        return int(r)
    except ValueError:
        number = float(r)
        if number.is_integer():
            return int(number)
        raise ValueError(f"{r} is not a valid row number") from None
