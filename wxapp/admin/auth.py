"""Staff login, logout and password change; every console page but the login needs a staff session.

The cookie keeps the token of a server-side session (`services.identity.staff_sessions`) as the
user id: logout, a password change (the account's other sessions) and a disabled account end it on
the server, so a copied cookie replayed afterwards logs nobody in.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user

from models import StaffUser
from models.staff import ROLE_ADMIN
from services.identity import staff, staff_sessions
from services.timeutil import utcnow
from wxapp.admin import bp, drafts
from wxapp.extensions import db, redis_client

login_manager = LoginManager()
login_manager.login_view = "admin.login"
login_manager.login_message = "请先登录教务后台"
login_manager.session_protection = "basic"


@dataclass
class StaffPrincipal(UserMixin):
    """The logged-in staff member as the console sees them (a detached snapshot of the account)."""

    user_id: int
    username: str
    role: str
    token: str

    def get_id(self) -> str:
        return self.token

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @classmethod
    def of(cls, user: StaffUser, token: str) -> StaffPrincipal:
        return cls(user.id, user.username, user.role, token)


@login_manager.user_loader
def load_staff(token: str) -> StaffPrincipal | None:
    user = staff_sessions.user_of(db.session, token, utcnow())
    return StaffPrincipal.of(user, token) if user is not None else None


@bp.before_request
def require_staff():
    """Every console page but the login and its assets needs a staff session; a form posted after
    the session ended is kept, to be put back after the login."""
    if request.endpoint in ("admin.login", "admin.static"):
        return None
    if not current_user.is_authenticated:
        if request.method == "POST":
            return _to_login_keeping_form()
        if request.headers.get("HX-Request"):  # a fragment would show the login page inside the page
            page = urlsplit(request.headers.get("HX-Current-URL", "")).path
            return "", 204, {"HX-Redirect": url_for("admin.login", next=_safe_next(page))}
        return login_manager.unauthorized()
    return None


def _to_login_keeping_form():
    page = drafts.keep()
    flash("登录已过期，请重新登录；您在表单中填写的内容已保留（密码、手机号和身份证号除外），登录后会回到原来的页面", "warning")
    target = url_for("admin.login", next=page)
    return ("", 204, {"HX-Redirect": target}) if request.headers.get("HX-Request") else redirect(target)


def csrf_refused():
    """A console form whose CSRF token no longer matches the session: the session ended (log in
    again, then back to the form with what was typed), or was replaced by a login in another tab
    (refused, 400, with a link back to the form, which gets what was typed)."""
    if request.endpoint == "admin.login":
        return render_template("admin/login.html", error="登录页面已过期，请重新输入用户名和密码",
                               username=request.form.get("username", "")[:64], next=request.form.get("next", "")), 400
    if not current_user.is_authenticated:
        return _to_login_keeping_form()
    from wxapp.admin.helpers import error_page

    return error_page(400, "页面已过期，没有提交。您填写的内容已保留：回到原页面检查后重新提交即可", back=drafts.keep())


def admin_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def actor() -> str:
    return current_user.username


def _safe_next(target: str | None) -> str:
    parts = urlsplit(target or "")
    # A control character (a line break: header injection) makes any target the dashboard.
    if target and target.isprintable() and not parts.scheme and not parts.netloc and parts.path.startswith("/admin/"):
        return target
    return url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("admin.dashboard"))
        return render_template("admin/login.html", next=request.args.get("next", ""))
    username = request.form.get("username", "")
    try:
        user, token = staff.log_in(db.session, redis_client(), username, request.form.get("password", ""), utcnow())
    except staff.LoginRefused as exc:
        return render_template("admin/login.html", error=exc.message, username=username[:64],
                               next=request.form.get("next", "")), 200
    saved = session.get(drafts.KEY)  # a form kept when the last session ended
    session.clear()  # a new session for the new identity
    drafts.carried(saved)
    session.permanent = True
    login_user(StaffPrincipal.of(user, token))
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    staff_sessions.end(db.session, current_user.token, utcnow())
    logout_user()
    session.clear()
    flash("已退出登录")
    return redirect(url_for("admin.login"))


@bp.route("/password", methods=["GET", "POST"])
def password():
    if request.method == "POST":
        form = request.form
        try:
            staff.change_password(db.session, current_user.user_id, form.get("current", ""),
                                  form.get("new", ""), form.get("repeat", ""), current_user.token, utcnow())
        except staff.StaffError as exc:
            return render_template("admin/password.html", error=exc.message)
        flash("密码已修改；其他已登录的地方需要重新登录")
        return redirect(url_for("admin.dashboard"))
    return render_template("admin/password.html")
