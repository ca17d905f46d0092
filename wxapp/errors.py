"""Error pages and JSON errors: a clear Chinese message, never a stack trace.

Trainee pages (`/h5/…`) get the styled error page; the JSON API `{"error": "<Chinese text>"}`. A
dependency that is down (Redis, the database) is a 503 with a message saying to try again later,
not a 500: it is nobody's mistake and it passes.

A `ServiceError` a view lets through is rendered here, the one place that does it: its message with
its status as JSON or a page, and in the staff console a form's refusal is flashed on the page the
form was posted from (views need not catch a refusal only to show it).
"""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

import redis as redis_lib
from flask import Flask, flash, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from services import ServiceError
from services.db import discard
from wxapp.logs import kv

log = logging.getLogger(__name__)

MESSAGES = {
    400: "请求格式不正确",
    403: "没有权限访问",
    404: "页面不存在",
    405: "请求方式不支持",
    413: "提交的内容过大",
    429: "操作过于频繁，请稍后再试",
    500: "系统繁忙，请稍后再试",
    503: "服务暂不可用，请稍后再试",
}
# A trainee page's words where the bare ones would leave a person guessing (the page adds the way
# back to 在线学习 and the school's phone).
H5_MESSAGES = {
    404: "页面不存在，链接可能已失效。请返回“在线学习”重新进入。",
    500: "系统出了点问题，您的学习记录不受影响。请稍后再试，或返回“在线学习”。",
}
EXPIRED = "页面已过期，请返回刷新页面后重新提交。"
UNAVAILABLE = "系统暂时无法访问，请稍等片刻后刷新页面重试。"


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _render(code: int, message: str | None = None):
    same = message is None
    message = message or MESSAGES.get(code, "请求无法完成")
    if _wants_json():
        return jsonify(error=message), code
    if request.path.startswith("/wechat"):
        return message, code, {"Content-Type": "text/plain; charset=utf-8"}
    if request.path.startswith("/h5/"):
        return render_template("h5/error.html", message=H5_MESSAGES.get(code, message) if same else message), code
    if request.path.startswith("/admin/"):
        return _console_page(code, message)
    return _bare(code, message)


def _console_page(code: int, message: str):
    """The console's error inside its layout; its menu asks the database for the staff member,
    so a page for a dependency that is down goes without it, and a layout that fails itself falls
    back to the bare page."""
    from wxapp.admin.helpers import error_page

    try:
        return error_page(code, message, menu=code != 503)
    except Exception:
        rollback_quietly()
        log.warning(kv("console_error_page_failed", path=request.path), exc_info=True)
        return _bare(code, message)


def _bare(code: int, message: str):
    body = (
        "<!doctype html><html lang=zh-CN><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{message}</title><p style='font-size:20px;padding:24px'>{message}</p></html>"
    )
    return body, code, {"Content-Type": "text/html; charset=utf-8"}


def _back_to_form(message: str):
    """A console form's refusal: flashed, and back to the page the form was on (the dashboard
    when the browser sent no usable Referer)."""
    target = urlsplit(request.referrer or "")
    same_site = not target.netloc or target.netloc == request.host
    back = target.path + (f"?{target.query}" if target.query else "")
    if not same_site or not back.startswith("/admin/"):
        back = url_for("admin.dashboard")
    flash(message, "danger")
    if request.headers.get("HX-Request"):  # htmx swaps no 4xx: the whole page shows the message
        return "", 204, {"HX-Redirect": back}
    return redirect(back)


def service_error(exc: ServiceError):
    """The one rendering of a refusal: its Chinese message with its status; a console form's
    refusal goes back to the form with the message flashed."""
    rollback_quietly()
    if exc.detail:
        log.info(kv("service_refused", path=request.path, error=type(exc).__name__, detail=exc.detail))
    console_form = request.path.startswith("/admin/") and request.method == "POST" and not _wants_json()
    if console_form:
        return _back_to_form(exc.message)
    return _render(exc.status, exc.message)


def rollback_quietly() -> None:
    """What the failed request left open goes (services.db.discard), before the error answer reads."""
    from wxapp.extensions import db

    discard(db.session)


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        if request.path.startswith("/admin/"):
            from wxapp.admin.auth import csrf_refused

            return csrf_refused()
        if request.path.startswith("/h5/") and not _wants_json():
            from wxapp.h5.views import answer_expired  # what was typed is kept, with a way to try again

            return answer_expired()
        return _render(400, EXPIRED)

    app.register_error_handler(ServiceError, service_error)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _render(exc.code or 500, getattr(exc, "chinese", None))  # wxapp/request_guard.py's 400s say why

    @app.errorhandler(DataError)
    def data_refused(exc: DataError):
        # Input the database can't hold (a NUL, a number past its column) that no check caught:
        # the client's, not a fault; rolled back whole.
        rollback_quietly()
        log.warning(kv("input_refused_by_database", path=request.path, error=type(exc.orig).__name__))
        return _render(400)

    @app.errorhandler(redis_lib.RedisError)
    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def dependency_down(exc: Exception):
        rollback_quietly()
        log.warning(kv("dependency_unavailable", path=request.path, error=type(exc).__name__))
        return _render(503, UNAVAILABLE)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        rollback_quietly()
        log.exception(kv("unhandled_error", path=request.path, error=type(exc).__name__))
        return _render(500)
