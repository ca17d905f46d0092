"""The roster preview of the console: each row of an upload to be added, updated or rejected (why),
named as staff know it (the name masked as on every console list), and the class codes it names that
don't exist yet; built from the import's own dry run, so it says what the import would do."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import TrainingClass
from services.identity.pii import mask_name
from services.school.imports import ImportReport, cells
from services.school.imports.sheet import SheetRow


@dataclass(frozen=True)
class PreviewRow:
    """One row of the upload as the preview names it (the name masked as on every console list)."""

    number: int
    outcome: str  # created, updated or rejected
    name: str
    company: str
    major: str
    reason: str = ""


@dataclass(frozen=True)
class MissingClass:
    code: str
    major: str  # of the first row naming it: the major the class would most likely have
    rows: int


@dataclass(frozen=True)
class RosterPreview:
    report: ImportReport
    rows: dict[str, list[PreviewRow]]  # per outcome, in file order, at most MAX_LISTED each
    missing_classes: list[MissingClass]

    def more(self, outcome: str) -> int:
        """How many rows of `outcome` the lists leave out."""
        total = len(self.report.rejected) if outcome == "rejected" else getattr(self.report, outcome)
        return total - len(self.rows[outcome])


MAX_LISTED = 500


def named(session: Session, report: ImportReport, sheet: list[SheetRow]) -> RosterPreview:
    reasons = dict(report.rejected)
    rows: dict[str, list[PreviewRow]] = {"created": [], "updated": [], "rejected": []}
    existing = {code.upper() for code in session.scalars(select(TrainingClass.code))}
    missing: dict[str, MissingClass] = {}
    for row in sheet:
        major, code = cells.compact(row["专业"]), cells.compact(row["班级"])
        if code and code.upper() not in existing:
            seen = missing.get(code.upper())
            missing[code.upper()] = MissingClass(code, major, 1) if seen is None else \
                MissingClass(seen.code, seen.major, seen.rows + 1)
        outcome = "rejected" if row.number in reasons else report.outcomes.get(row.number, "")
        if outcome in rows and len(rows[outcome]) < MAX_LISTED:
            rows[outcome].append(PreviewRow(row.number, outcome, mask_name(cells.person_name(row["姓名"])),
                                            cells.text(row["工作单位"]), major, reasons.get(row.number, "")))
    rows["rejected"].sort(key=lambda r: r.number)
    return RosterPreview(report, rows, list(missing.values()))
