"""What hostile roster files cost `flask --app wsgi roster import` now: a 1 GiB zip bomb, a sheet of
3 million rows, one of 60,000 rows (past the 50,000 cap), and 50,000 rows that are all rejected.
Prints, per file: its size, the exit code, the lines printed, the wall time and the peak memory
(max RSS) of the import process. Run: `.venv/bin/python bench/import_hostile.py`.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, VENV_BIN  # noqa: E402
from tests.test_import_hostile import good_roster  # noqa: E402

SHEET = "xl/worksheets/sheet1.xml"
HEAD = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main"><sheetData>')
TAIL = b"</sheetData></worksheet>"
COLUMNS = ["姓名", "身份证号", "手机号", "工作单位", "专业", "类型", "注册有效期", "班级"]


def cells(number: int, values: list[str]) -> bytes:
    row = "".join(f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>' for i, v in enumerate(values))
    return f'<row r="{number}">{row}</row>'.encode()


def with_sheet(template: Path, target: Path, write_sheet) -> Path:
    with zipfile.ZipFile(template) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            if item.filename != SHEET:
                new.writestr(item, old.read(item.filename))
        with new.open(SHEET, "w", force_zip64=True) as sheet:
            write_sheet(sheet)
    return target


def rows_sheet(count: int, bad: bool = False):
    def write(sheet) -> None:
        sheet.write(HEAD + cells(1, COLUMNS))
        for n in range(2, count + 2):
            card = "123" if bad else f"32050519800101{n % 10000:04d}"
            sheet.write(cells(n, ["周一", card, f"139{n:08d}", "苏州示例建设有限公司", "建筑工程", "主项", "", ""]))
        sheet.write(TAIL)
    return write


def bomb_sheet(sheet) -> None:
    sheet.write(HEAD)
    chunk = b" " * (1 << 20)
    for _ in range(1024):
        sheet.write(chunk)
    sheet.write(TAIL)


def measure(path: Path, env: dict) -> str:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    run = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "roster", "import", str(path)], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    took = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    lines = (run.stdout + run.stderr).strip().splitlines()
    rss = f"{peak / 1024:.0f} MB" if peak > before else f"≤ {before / 1024:.0f} MB (an earlier run's peak)"
    return (f"{path.name}: {path.stat().st_size / 1e6:.1f} MB file, exit {run.returncode}, {len(lines)} lines printed, "
            f"{took:.1f} s, peak RSS {rss}\n    first line: {lines[0][:100] if lines else ''}\n"
            f"    last line: {lines[-1][:100] if lines else ''}")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        env = {**os.environ, "WXAPP_ENV": "development", "WXAPP_INSTANCE": str(root / "instance"),
               "DATABASE_URL": f"sqlite:///{root / 'bench.sqlite3'}"}
        subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        template = good_roster(root)
        files = [  # smallest peak first: ru_maxrss of children only ever grows
            ("bomb-1GiB.xlsx", bomb_sheet),
            ("rows-3M.xlsx", rows_sheet(3_000_000)),
            ("rows-60k.xlsx", rows_sheet(60_000)),
            ("rejected-50k.xlsx", rows_sheet(50_000, bad=True)),
        ]
        print("machine shared with other helpers' test runs: times are indicative")
        for name, writer in files:
            made = time.monotonic()
            path = with_sheet(template, root / name, writer)
            print(f"(made {name} in {time.monotonic() - made:.0f} s)")
            print(measure(path, env))


if __name__ == "__main__":
    main()
