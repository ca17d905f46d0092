"""Excel files built in tests the way staff fill them in: title rows, blank rows, typed cells."""
from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from services.identity.pii import id_card_check_digit

ROSTER_HEADER = ["姓名", "身份证号", "手机号", "工作单位", "专业", "类型", "注册有效期", "班级"]
CATALOG_HEADER = ["课程类型", "专业", "课程名称", "视频标题", "视频地址", "时长(秒)", "学时"]
# The school's sample files, in the repository's samples/ folder (the README names them from there).
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
ROSTER_SAMPLE = SAMPLES / "roster-sample.xlsx"
CATALOG_SAMPLE = SAMPLES / "catalog-sample.xlsx"
COMPANY = "苏州示例建设有限公司"


def id_card(first17: str) -> str:
    """A fictitious ID card with a valid check digit."""
    return first17 + id_card_check_digit(first17)


def write_xlsx(path: Path, header: list, rows: list[list], titles: list[list] = ()) -> Path:
    """`titles` go above the header (an empty list is a blank row); dates become Excel dates."""
    workbook = Workbook()
    sheet = workbook.active
    for row in [*titles, header, *rows]:
        sheet.append(row)
    workbook.save(path)
    return path


def roster_row(name="周一", card="320505198001010017", phone="13912340001", company=COMPANY,
               major="建筑工程", kind="主项", expires=None, class_code=None) -> list:
    return [name, card, phone, company, major, kind, expires, class_code]


def write_roster(path: Path, rows: list[list], titles: list[list] = ()) -> Path:
    return write_xlsx(path, ROSTER_HEADER, rows, titles)


def catalog_row(kind="公共课", major=None, course="公共课程", title="第1讲", url="https://media.example.com/1.mp4",
                duration=2700, hours=2) -> list:
    return [kind, major, course, title, url, duration, hours]


def write_catalog(path: Path, rows: list[list]) -> Path:
    return write_xlsx(path, CATALOG_HEADER, rows)
