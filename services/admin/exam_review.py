"""The provincial completions file in the staff console, as bytes for a download recorded in the
audit log (the export's read and its record in one transaction), and its form's filters. Voiding
and releasing attempts are `services.exam.staff`'s actions, lifting locks `services.identity.binding`'s."""
from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from services import ServiceError
from services.completion.export import ExportFilter, export_completions
from services.db import transaction
from services.identity import audit
from services.identity.pii import PiiCipher
from services.school.majors import MAJOR_NAMES


class ReviewError(ServiceError):
    pass


def export_filter(raw_from: str, raw_to: str, major: str) -> ExportFilter:
    """The export's form fields as the command's options; a mistyped one is refused in words."""
    def day(raw: str, label: str) -> date | None:
        raw = raw.strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise ReviewError(f"{label}应为 YYYY-MM-DD 格式的日期") from None

    wanted = ExportFilter(day(raw_from, "起始日期"), day(raw_to, "截止日期"), major.strip() or None)
    if wanted.major is not None and wanted.major not in MAJOR_NAMES:
        raise ReviewError(f"没有“{wanted.major[:20]}”这个专业")
    return wanted


def completions_file(session: Session, cipher: PiiCipher, wanted: ExportFilter, actor: str) -> tuple[bytes, int]:
    """The provincial completions file (full ID card numbers) and its row count; the download is
    recorded. The file is written by `export_completions` into a private temporary directory."""
    with tempfile.TemporaryDirectory(prefix="completions-") as folder, transaction(session):
        target = Path(folder) / "completions.xlsx"
        result = export_completions(session, cipher, target, wanted)
        data = target.read_bytes()
        parts = [f"从 {wanted.date_from}" if wanted.date_from else "",
                 f"到 {wanted.date_to}" if wanted.date_to else "", wanted.major or ""]
        audit.record(session, actor, "completions_exported", "export:completions",
                     f"导出结业名单（含完整身份证号）{result.rows} 条"
                     + ("：" + " ".join(p for p in parts if p) if any(parts) else ""))
    return data, result.rows
