"""Cell values as people type them in Excel, turned into clean Python values.

Each parser returns the value or raises CellError with the Chinese reason shown to staff.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from openpyxl.utils.datetime import from_excel

from services.errors import ServiceError

_CJK = re.compile(r"[\u3400-\u9fff]")
# A date as people type it (2027-03-01, 2027/3/1, 2027.3.1, 2027年3月1日), then maybe a time (9:00,
# 09:00:00, T09:00 from a browser's date-time picker); full-width digits and colons are made
# half-width before.
_TEXT_DATE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:(?:\s+|\s*T|(?<=日))(\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)
MOMENT_EXAMPLES = "2027-03-01 09:00、2027/3/1 9:00 或 2027年3月1日 9:00"
# Excel serial numbers of 1950-01-01 and 2099-12-31: a bare number in a date column between
# them is a date whose cell lost its date format.
_SERIAL_RANGE = (18264, 73050)


class CellError(ServiceError):
    """A cell that can't be read as what its column holds; `message` is the reason shown to staff."""


def text(value: object) -> str:
    """Text of a cell as typed, trimmed, runs of spaces made one; numbers without `.0`.

    Full-width punctuation stays: it is how Chinese titles and company names are written.
    """
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def compact(value: object) -> str:
    """Half-width text with every space removed, for codes, numbers and names from a fixed list."""
    return unicodedata.normalize("NFKC", text(value)).replace(" ", "")


def person_name(value: object) -> str:
    """Chinese names lose the spaces typed to align them (张  三); others keep single spaces."""
    name = text(value)
    return name.replace(" ", "") if _CJK.search(name) else name


def optional_date(value: object, column: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if _SERIAL_RANGE[0] <= value <= _SERIAL_RANGE[1]:
            moment: datetime = from_excel(value)
            return moment.date()
        raise CellError(f"{column}无法识别，应为日期，如 2027-03-01")
    match = _TEXT_DATE.match(" ".join(unicodedata.normalize("NFKC", str(value)).split()))
    if match is None:
        raise CellError(f"{column}无法识别，应为日期，如 2027-03-01、2027/3/1 或 2027年3月1日")
    try:
        return date(*(int(part) for part in match.groups()[:3]))
    except ValueError:
        raise CellError(f"{column}不是一个存在的日期") from None


def local_moment(value: object, column: str) -> datetime:
    """A date and time as people type them (`MOMENT_EXAMPLES`, or an Excel date-time cell), naive:
    the caller says which zone it is in. The one parser of typed date-times (the console's picker,
    `class create --starts`, spreadsheet cells)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if _SERIAL_RANGE[0] <= value <= _SERIAL_RANGE[1]:
            serial: datetime = from_excel(value)
            return serial
    match = _TEXT_DATE.match(" ".join(unicodedata.normalize("NFKC", str(value or "")).split()))
    if match is None or match.group(4) is None:
        shown = text(value)[:40]
        raise CellError(f"{column}“{shown}”格式不对，应为 YYYY-MM-DD HH:MM 等日期和时间，如 {MOMENT_EXAMPLES}"
                        if shown else f"请填写{column}，如 {MOMENT_EXAMPLES}")
    year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise CellError(f"{column}“{text(value)[:40]}”不是一个存在的日期或时间") from None


def positive_int(value: object, column: str) -> int:
    reason = f"{column}应为大于0的整数"
    if isinstance(value, bool):
        raise CellError(reason)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and compact(value).isdigit():
        value = int(compact(value))
    if not isinstance(value, int) or value <= 0:
        raise CellError(reason)
    return value


def positive_decimal(value: object, column: str, places: int, below: int) -> Decimal:
    """A number > 0 and < `below`, with at most `places` decimals (what the column can hold)."""
    reason = f"{column}应为大于0、小于{below}的数字，最多{places}位小数"
    if value is None or isinstance(value, bool):
        raise CellError(reason)
    try:
        number = Decimal(compact(value))
    except InvalidOperation:
        raise CellError(reason) from None
    exponent = number.as_tuple().exponent  # a letter ('n', 'N', 'F') when not finite
    if not isinstance(exponent, int) or not 0 < number < below or exponent < -places:
        raise CellError(reason)
    return number


T = TypeVar("T")


def checked(errors: list[str], parse: Callable[..., T], *args: object) -> T | None:
    """`parse(*args)`, or None with the cell's reason added to `errors`: a row reports every bad cell at once.

    Any refusal counts (a CellError, or a rule's own, such as an invalid ID card): all are in Chinese."""
    try:
        return parse(*args)
    except ServiceError as exc:
        errors.append(exc.message)
        return None
