"""`POST /api/play/heartbeat` (CONTRACT §4), answered in front of Flask's request machinery.

Every open player page beats every 15 s: in a term's busiest hour it is most of the traffic. Its
answer needs the trainee's OpenID from the session cookie, a small JSON body and the player
service, nothing else; Flask's request context, session object, before/after hooks, CSRF check and
route-limit resolution cost several times the answer itself (bench/heartbeat.py). So, as the WeChat
callback does (wxapp/wechat/endpoint.py), this WSGI layer answers the one path itself, inside an
app context (the database session and the app's clients work as anywhere), and hands every other
request to Flask.

What the Flask view did still holds:
- The session cookie is verified with the app's own serializer and lifetime; a cookie already
  verified is remembered (it is the same string every beat) until that lifetime ends. It is never
  re-signed: the page load that started the player has just refreshed it.
- CSRF: none is needed, as before (`sendBeacon` sends no header). The `tab` in the body is the
  protection: a 128-bit secret written into the one page the server opened, kept in Redis; a
  forged heartbeat is refused as superseded and earns nothing.
- At most 120 beats a minute per WeChat user (a company may share one NAT address), counted by
  the player in the same Redis round trip that reads the page's state.
- A body that is not a small flat JSON object is a 400. A heartbeat that can't be recorded (Redis
  or the database unreachable) is answered 503 with `{"error": UNRECORDED}`: the player pauses and
  shows that text, since watching on would earn nothing.
- The answer carries the security headers every answer carries (wxapp/security.py) and `no-store`.
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http import HTTPStatus

import redis as redis_lib
from flask import Flask
from itsdangerous import BadSignature
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from services import ServiceError
from services.redis_tools import Contended
from services.study.player import STATES, Beat, Progress, Superseded, TooManyBeats
from wxapp import db_budget
from wxapp.errors import rollback_quietly
from wxapp.extensions import player
from wxapp.logs import kv
from wxapp.metrics import ROUTE_KEY
from wxapp.security import response_headers

log = logging.getLogger(__name__)

PATH = "/api/play/heartbeat"
MAX_TAB = 64
MAX_BODY = 1024  # a heartbeat is under 150 bytes
UNRECORDED = "网络或服务器暂时异常，学习进度没有保存，视频已暂停。请稍等片刻再点播放继续学习。"
DATABASE_S = 3.0  # a beat comes every 15 s: one that waits longer on the database is better refused
SIGNED_OUT = "登录已失效，请从公众号菜单重新进入"
_DOWN = (redis_lib.RedisError, OperationalError, InterfaceError, PoolTimeout)
MAX_REMEMBERED = 50_000  # verified cookies kept (~10 MB at most); forgotten all at once when full

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def parse_beat(data: object) -> Beat | None:
    if not isinstance(data, dict):
        return None
    lesson_id, position, tab, state = (data.get(k) for k in ("lesson_id", "position", "tab", "state"))
    if not isinstance(lesson_id, int) or isinstance(lesson_id, bool) or lesson_id <= 0:
        return None
    if not isinstance(position, (int, float)) or isinstance(position, bool) or not math.isfinite(position):
        return None
    if not isinstance(tab, str) or len(tab) > MAX_TAB or state not in STATES:
        return None
    return Beat(lesson_id, float(position), tab, state)


def read_beat(environ: dict) -> Beat | None:
    """The heartbeat in the body; None for anything else (too long, not JSON, nested past reason)."""
    try:
        declared = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < declared <= MAX_BODY:
        return None
    raw = environ["wsgi.input"].read(declared)
    try:  # sendBeacon posts text/plain: the body is JSON whatever the declared type
        return parse_beat(json.loads(raw))
    except (ValueError, RecursionError):
        return None


class SessionReader:
    """The OpenID of a trainee session cookie, verified as Flask's session interface verifies it."""

    def __init__(self, app: Flask):
        self.cookie_name = app.config["SESSION_COOKIE_NAME"]
        self.serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        self.max_age = int(app.permanent_session_lifetime.total_seconds())
        self.remembered: dict[str, tuple[str | None, float]] = {}
        self.lock = threading.Lock()

    def openid(self, environ: dict, now: float) -> str | None:
        value = _cookie(environ.get("HTTP_COOKIE", ""), self.cookie_name)
        if not value or self.serializer is None:
            return None
        known = self.remembered.get(value)
        if known is None:
            try:
                data, signed = self.serializer.loads(value, max_age=self.max_age, return_timestamp=True)
            except BadSignature:  # tampered or expired (SignatureExpired is one)
                return None
            openid = data.get("openid") if isinstance(data, dict) else None
            known = (openid if isinstance(openid, str) else None, signed.timestamp())
            with self.lock:
                if len(self.remembered) >= MAX_REMEMBERED:
                    self.remembered.clear()
                self.remembered[value] = known
        openid, signed_at = known
        return openid if now - signed_at <= self.max_age else None


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip('"')
    return None


class HeartbeatEndpoint:
    """WSGI middleware: answers `POST PATH` itself and hands every other request to `wsgi_app`."""

    def __init__(self, app: Flask, wsgi_app: WsgiApp):
        self.app, self.wsgi_app = app, wsgi_app
        self.sessions = SessionReader(app)
        self.headers = response_headers(app, PATH, "application/json")
        self.urls = app.url_map.bind("localhost")

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return self.wsgi_app(environ, start_response)
        environ[ROUTE_KEY] = PATH
        if environ.get("REQUEST_METHOD") != "POST":
            status, payload = 405, {"error": "method not allowed"}
        else:
            # A beat that can't be recorded in time is a 503 the player shows (wxapp/db_budget.py).
            with db_budget.limit(DATABASE_S), self.app.app_context():
                status, payload = self.respond(environ)
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = [*self.headers, ("Content-Length", str(len(body)))]
        if status == 405:
            headers.append(("Allow", "POST"))
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]

    def respond(self, environ: dict) -> tuple[int, dict]:
        now = time.time()
        openid = self.sessions.openid(environ, now)
        if openid is None:
            return 401, {"error": SIGNED_OUT}
        beat = read_beat(environ)
        if beat is None:
            return 400, {"error": "请求格式不正确"}
        try:
            progress = player().heartbeat(openid, beat, now)
        except Superseded as exc:  # CONTRACT §4: exactly {"error": "superseded"}; "closed" after an unbind
            return 409, {"error": exc.reason}
        except (Contended, TooManyBeats) as exc:
            return exc.status, {"error": exc.message}
        except ServiceError as exc:
            return 400, {"error": exc.message}
        except _DOWN as exc:
            rollback_quietly()
            log.warning(kv("heartbeat_unrecorded", error=type(exc).__name__))
            return 503, {"error": UNRECORDED}
        return 200, self.progress_json(progress)

    def progress_json(self, progress: Progress) -> dict:
        check = None
        if progress.check is not None:
            check = {
                "id": progress.check.id,
                "qr_png": self.urls.build("api.attendance_qr", {"check_id": progress.check.id}),
                "expires_at": datetime.fromtimestamp(progress.check.expires_at, UTC).isoformat(),
            }
        return {"max_position": progress.max_position, "credited_seconds": progress.credited_seconds,
                "lesson_completed": progress.lesson_completed, "challenge": check}  # CONTRACT's key


def mount(app: Flask) -> None:
    # Pages still name it with url_for('api.heartbeat'): a rule that builds and never matches.
    app.add_url_rule(PATH, endpoint="api.heartbeat", build_only=True, methods=["POST"])
    app.wsgi_app = HeartbeatEndpoint(app, app.wsgi_app)
