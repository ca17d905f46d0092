"""Error pages and JSON errors: a clear Chinese message, never a stack trace."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

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


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _render(code: int, message: str | None = None):
    message = message or MESSAGES.get(code, "请求无法完成")
    if _wants_json():
        return jsonify(error=message), code
    if request.path.startswith("/wechat"):
        return message, code, {"Content-Type": "text/plain; charset=utf-8"}
    body = (
        "<!doctype html><html lang=zh-CN><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{message}</title><p style='font-size:20px;padding:24px'>{message}</p></html>"
    )
    return body, code, {"Content-Type": "text/html; charset=utf-8"}


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return _render(400, "页面已过期，请返回刷新页面后重新提交。")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _render(exc.code or 500)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception(kv("unhandled_error", path=request.path, error=type(exc).__name__))
        return _render(500)
