"""Staff's completion action, for the console and the CLI alike: the provincial completions file
(full ID card numbers), its export recorded in the audit log in the export's transaction."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sqlalchemy.orm import Session

from services.completion.export import ExportFilter, ExportResult, export_completions
from services.db import transaction
from services.identity import audit
from services.identity.pii import PiiCipher


def export_recorded(session: Session, cipher: PiiCipher, path: str | os.PathLike[str], wanted: ExportFilter,
                    actor: str) -> ExportResult:
    """Writes the completions file to `path` (`export_completions`) and records who took it; the
    export only reads, so its transaction commits the record alone."""
    with transaction(session):
        result = export_completions(session, cipher, path, wanted)
        parts = [f"从 {wanted.date_from}" if wanted.date_from else "",
                 f"到 {wanted.date_to}" if wanted.date_to else "", wanted.major or ""]
        audit.record(session, actor, "completions_exported", "export:completions",
                     f"导出结业名单（含完整身份证号）{result.rows} 条"
                     + ("：" + " ".join(p for p in parts if p) if any(parts) else ""))
    return result


def completions_file(session: Session, cipher: PiiCipher, wanted: ExportFilter, actor: str) -> tuple[bytes, int]:
    """The completions file as bytes (a console download) and its row count, recorded; written
    into a private temporary directory first."""
    with tempfile.TemporaryDirectory(prefix="completions-") as folder:
        target = Path(folder) / "completions.xlsx"
        result = export_recorded(session, cipher, target, wanted, actor)
        return target.read_bytes(), result.rows
