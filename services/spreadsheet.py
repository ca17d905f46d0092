"""Cells written into spreadsheets that staff open in Excel or WPS: text that begins like a
formula is escaped, so a trainee's or a company's typed value can't run as one (formula / CSV
injection: `=HYPERLINK(…)`, `=cmd|' /C calc'!A0`, `@SUM(…)`).

Every export calls `escape_formula` on each text cell it writes, and writes text as text
(XlsxWriter's `write_string`, or openpyxl with the cell's `data_type = "s"`), never letting the
writer guess a formula. Imports keep such cells exactly as typed: they are text in the database,
and only become dangerous in the next spreadsheet.
"""
from __future__ import annotations

from collections.abc import Iterable

# What Excel, LibreOffice and WPS take as the start of a formula (tab and CR: pasted into CSV cells).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(value: object) -> object:
    """A text starting like a formula, prefixed with `'` (shown as text by every spreadsheet);
    anything else unchanged (numbers and dates stay numbers and dates)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def escaped_row(values: Iterable[object]) -> list[object]:
    """`escape_formula` of each cell of a row."""
    return [escape_formula(value) for value in values]
