"""The audit log page (操作记录, admins only): filters by staff member, action and day; paginated."""
from __future__ import annotations

from datetime import date

from flask import render_template, request

from services.admin import audit_log
from wxapp.admin import bp
from wxapp.admin.auth import admin_required
from wxapp.admin.helpers import AUDIT_LABELS, page_arg
from wxapp.extensions import db


def _day(name: str, label: str, errors: list[str]) -> date | None:
    raw = request.args.get(name, "").strip()[:10]
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"{label}应为 YYYY-MM-DD 格式的日期")
        return None


@bp.route("/audit", endpoint="audit_log")
@admin_required
def audit_log_page():
    errors: list[str] = []
    action = request.args.get("action", "").strip()[:48]
    filters = audit_log.Filters(actor=request.args.get("actor", "").strip()[:64], action=action,
                                day_from=_day("from", "起始日期", errors), day_to=_day("to", "截止日期", errors))
    page = page_arg()
    rows, total = audit_log.page(db.session, filters, page)
    return render_template("admin/audit.html", rows=rows, total=total, page=page, page_size=audit_log.PAGE_SIZE,
                           filters=filters, actors=audit_log.actors(db.session), actions=AUDIT_LABELS,
                           error="；".join(errors) or None)
