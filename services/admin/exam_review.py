"""The filters of the console's completions export, read from its form (the export itself is
`services.completion.staff`'s recorded action)."""
from __future__ import annotations

from datetime import date

from services import ServiceError
from services.completion.export import ExportFilter
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
