"""Benchmark: the provincial export of 10,000 completions (target: under 5 s), on SQLite and PostgreSQL.

Run standalone: `.venv/bin/python bench/export_completions.py [ROWS]`. Fills a fresh database with
ROWS trainees, each with one valid completion (plus a tenth as many cancelled ones, which the export
skips), then times `export_completions` three times: wall time, CPU time of this process (on a
loaded machine the wall time also waits for a core), rows per second, the file's size. Then the
Python memory peak of one more, untimed export (tracemalloc), and a read-back with openpyxl. The
machine may be shared: the load average is printed first; read the figures with it.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openpyxl import load_workbook  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from bench.common import temporary_postgres  # noqa: E402
from bench.import_roster import fictitious_id, settings  # noqa: E402
from models import Completion, Enrollment, Trainee, db  # noqa: E402
from services.completion.export import export_completions  # noqa: E402
from services.completion.records import new_certificate_number  # noqa: E402
from services.identity.pii import mask_id_card  # noqa: E402
from services.school.majors import MAJOR_NAMES, ensure_majors  # noqa: E402
from wxapp import create_app  # noqa: E402

RUNS = 3
START = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)


def fill(session, cipher, rows: int) -> None:
    """ROWS trainees with one valid completion each, and a cancelled one for every tenth trainee."""
    majors = ensure_majors(session)
    major_ids = [majors[name].id for name in MAJOR_NAMES]
    trainees = []
    for i in range(rows):
        id_card = fictitious_id(i)
        trainees.append({"id": i + 1, "name": f"学员{i}", "phone": f"139{i:08d}", "company": f"苏州测试建设第{i % 50}有限公司",
                         "id_card_hash": cipher.lookup_hash(id_card), "id_card_enc": cipher.encrypt(id_card),
                         "id_card_mask": mask_id_card(id_card)})
    session.execute(insert(Trainee), trainees)
    session.execute(insert(Enrollment), [
        {"trainee_id": i + 1, "major_id": major_ids[i % len(major_ids)], "kind": "main", "fee": 600} for i in range(rows)])
    completions = [
        {"number": new_certificate_number(), "trainee_id": i + 1, "major_id": major_ids[i % len(major_ids)],
         "score": 60 + i % 41, "completed_at": START + timedelta(minutes=7 * i), "state": "valid"}
        for i in range(rows)]
    completions += [
        {"number": new_certificate_number(), "trainee_id": i + 1, "major_id": major_ids[i % len(major_ids)],
         "score": 61, "completed_at": START, "state": "cancelled", "cancelled_at": START, "cancel_reason": "bench"}
        for i in range(0, rows, 10)]
    session.execute(insert(Completion), completions)
    session.commit()


def run(label: str, database_url: str, rows: int, tmp: Path) -> None:
    app = create_app(settings(database_url, tmp / "instance"))
    with app.app_context():
        db.create_all()
        started = time.perf_counter()
        fill(db.session, app.extensions["pii"], rows)
        valid = db.session.scalar(select(db.func.count()).where(Completion.state == "valid"))
        print(f"{label:<10} filled {rows} trainees, {valid} valid completions in {time.perf_counter() - started:.1f} s")
        target = tmp / f"{label}.xlsx"
        for attempt in range(1, RUNS + 1):
            started, cpu = time.perf_counter(), time.process_time()
            result = export_completions(db.session, app.extensions["pii"], target)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            db.session.rollback()
            print(f"{label:<10} export #{attempt}: {result.rows} rows in {elapsed:5.2f} s wall, {cpu:5.2f} s CPU of this "
                  f"process ({result.rows / elapsed:6.0f} rows/s), {target.stat().st_size // 1024} KiB")
        tracemalloc.start()
        export_completions(db.session, app.extensions["pii"], target)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        db.session.rollback()
        print(f"{label:<10} Python memory peak of one export: {peak / 2**20:.1f} MiB (a separate, traced run)")
        read_back = load_workbook(target, read_only=True).worksheets[0].max_row - 1
        print(f"{label:<10} read back with openpyxl: {read_back} data rows")
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores "
          "(a shared machine: other work runs beside this)")
    with tempfile.TemporaryDirectory(prefix="wxapp-bench-") as tmp:
        tmp_path = Path(tmp)
        run("sqlite", f"sqlite:///{tmp_path / 'bench.sqlite3'}", rows, tmp_path)
        with temporary_postgres() as url:
            run("postgresql", url, rows, tmp_path)


if __name__ == "__main__":
    main()
