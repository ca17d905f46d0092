"""Benchmark: import a 10,000-row roster into fresh SQLite and PostgreSQL databases.

Run standalone: `.venv/bin/python bench/import_roster.py [ROWS]`. Prints, for each backend, the
wall time, this process's CPU time (the database server's is not in it) and row rate of the first
import, of a re-import of the same file, and of an import of the same roster with every phone
number changed (the update path); then the time of reading the file alone
(services.school.imports.sheet.read_sheet, best of three). The PostgreSQL database is created and
dropped through WXAPP_BENCH_PG_ADMIN (bench/common.py).
"""
from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openpyxl import Workbook  # noqa: E402

from bench.common import temporary_postgres  # noqa: E402
from models import db  # noqa: E402
from services.identity.pii import id_card_check_digit  # noqa: E402
from services.school.classes import create_class  # noqa: E402
from services.school.imports import import_roster  # noqa: E402
from services.school.imports.roster import COLUMNS  # noqa: E402
from services.school.imports.sheet import read_sheet  # noqa: E402
from services.school.majors import MAJOR_NAMES  # noqa: E402
from wxapp import create_app  # noqa: E402

REGIONS = ("320505", "320506", "320507", "320508", "320581", "320582", "320583", "320585", "320102", "320211")
CLASSES = (("BENCH-JZ", "建筑工程"), ("BENCH-SZ", "市政公用工程"), ("BENCH-JD", "机电工程"))
TWO_MAJOR_SHARE = 0.10


def fictitious_id(index: int) -> str:
    """A unique, checksum-valid ID card: the index spreads over region, birth date and sequence."""
    region = REGIONS[index % len(REGIONS)]
    born = date(1965, 1, 1) + timedelta(days=(index // len(REGIONS)) % 12000)
    sequence = 100 + index // (len(REGIONS) * 12000)
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return first17 + id_card_check_digit(first17)


def roster_rows(total: int, phone_prefix: str = "139", seed: int = 2027):
    """Yields `total` roster rows; about a tenth of the trainees come twice, with a second major."""
    rng = random.Random(seed)
    person, emitted = 0, 0
    class_of = {major: code for code, major in CLASSES}
    while emitted < total:
        id_card, phone = fictitious_id(person), f"{phone_prefix}{person:08d}"
        name, company = f"学员{person}", f"苏州测试建设第{person % 50}有限公司"
        majors = rng.sample(MAJOR_NAMES, 2) if rng.random() < TWO_MAJOR_SHARE else [rng.choice(MAJOR_NAMES)]
        for kind, major in zip(("主项", "增项"), majors, strict=False):
            if emitted == total:
                break
            expires = datetime(2027, 1, 1) + timedelta(days=person % 700)
            typed_date = expires if person % 2 else f"{expires.year}/{expires.month}/{expires.day}"
            phone_cell = int(phone) if person % 3 == 0 else phone
            yield [name, id_card, phone_cell, company, major, kind, typed_date, class_of.get(major)]
            emitted += 1
        person += 1


def write_roster(path: Path, total: int, phone_prefix: str = "139") -> None:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("报名汇总表")
    sheet.append(["苏州测试建设有限公司二级建造师继续教育报名汇总表"])
    sheet.append(["姓名", "身份证号", "手机号", "工作单位", "专业", "类型", "注册有效期", "班级"])
    for row in roster_rows(total, phone_prefix):
        sheet.append(row)
    workbook.save(path)


def settings(database_url: str, instance: Path) -> dict:
    return {
        "WXAPP_ENV": "testing", "SECRET_KEY": "bench-secret-" + "x" * 32,
        "PII_KEY": "bench-pii-key-0123456789-abcdefghijklmnop", "DATABASE_URL": database_url,
        "WXAPP_INSTANCE": str(instance), "WECHAT_APPID": "wxbench", "WECHAT_SECRET": "bench",
        "WECHAT_API_BASE": "http://127.0.0.1:9/",
    }


def run(label: str, database_url: str, rosters: dict[str, Path], rows: int, instance: Path) -> None:
    app = create_app(settings(database_url, instance))
    with app.app_context():
        db.create_all()
        for code, major in CLASSES:
            create_class(db.session, code, major, f"{major}基准班", "2027-03-01 09:00", "苏州市姑苏区培训楼", "bench")
        for attempt, roster in rosters.items():
            started, cpu = time.perf_counter(), time.process_time()
            report = import_roster(db.session, app.extensions["pii"], roster)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            print(f"{label:<10} {attempt:<14} {elapsed:6.2f} s  cpu {cpu:5.2f} s  {rows / elapsed:8.0f} rows/s  "
                  f"created={report.created} updated={report.updated} unchanged={report.unchanged} "
                  f"rejected={len(report.rejected)}")
        db.session.remove()
        db.engine.dispose()


def read_time(roster: Path) -> str:
    """Reading the file alone, the part of an import that doesn't depend on the database."""
    times = []
    for _ in range(3):
        started, cpu = time.perf_counter(), time.process_time()
        count = len(read_sheet(roster, COLUMNS))
        times.append((time.perf_counter() - started, time.process_time() - cpu))
    wall, cpu = min(times)
    return f"read_sheet {count} rows: {wall:.2f} s (cpu {cpu:.2f} s), best of 3"


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory(prefix="wxapp-bench-") as tmp:
        tmp_path = Path(tmp)
        roster, changed = tmp_path / "roster.xlsx", tmp_path / "roster-new-phones.xlsx"
        started = time.perf_counter()
        write_roster(roster, rows)
        size_kib = roster.stat().st_size // 1024
        print(f"generated {rows} rows in {time.perf_counter() - started:.2f} s ({size_kib} KiB)")
        write_roster(changed, rows, phone_prefix="137")
        rosters = {"first import": roster, "re-import": roster, "phones changed": changed}
        run("sqlite", f"sqlite:///{tmp_path / 'bench.sqlite3'}", rosters, rows, tmp_path / "instance")
        with temporary_postgres() as url:
            run("postgresql", url, rosters, rows, tmp_path / "instance")
        print(read_time(roster))  # last: the first import stays the process's first read


if __name__ == "__main__":
    main()
