"""Staff accounts (教务账号, admins only): the list, and 停用 / 启用. Disabling an account ends
every one of its sessions at once (`staff.set_active`); accounts are created on the server."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from services.identity import staff
from services.timeutil import utcnow
from wxapp.admin import bp
from wxapp.admin.auth import actor, admin_required
from wxapp.extensions import db


@bp.route("/staff")
@admin_required
def staff_page():
    return render_template("admin/staff.html", accounts=staff.accounts(db.session))


@bp.route("/staff/<username>/active", methods=["POST"])
@admin_required
def staff_active(username: str):
    active = request.form.get("active") == "1"
    try:
        user = staff.set_active(db.session, username[:32], active, actor(), utcnow())
    except staff.StaffError as exc:
        flash(exc.message, "danger")
    else:
        flash(f"已启用账号 {user.username}" if active else f"已停用账号 {user.username}，其所有登录已立即失效",
              "success")
    return redirect(url_for("admin.staff_page"))
