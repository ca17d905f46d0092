"""The player's JSON (CONTRACT §4): heartbeats, and the status and QR of attendance checks.

CSRF: the heartbeat is exempt from Flask-WTF's form token, because `sendBeacon` can send no
header and a player page stays open longer than a form token lives. Its protection is the
`tab` in the JSON body instead: a 128-bit secret the server wrote into the one page it opened
for the trainee and keeps in Redis. Another site's page can't read it (same-origin policy), so a
forged heartbeat is refused as superseded and earns nothing. The GETs change nothing.

A heartbeat that can't be recorded (Redis or the database unreachable) is answered 503 with
`{"error": UNRECORDED}`: the player pauses and shows that text, since watching on would earn
nothing. A body that is not a small flat JSON object is a 400, whatever it holds.
"""
from __future__ import annotations

import json
import logging
import math
import time
from datetime import UTC, datetime

import redis as redis_lib
from flask import Response, g, jsonify, request, url_for
from limits import parse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from services import ServiceError
from services.redis_tools import Contended
from services.study import attendance
from services.study.player import STATES, Beat, Progress, Superseded
from wxapp.api import bp
from wxapp.errors import rollback_quietly
from wxapp.extensions import csrf, db, limiter, links, player, redis_client
from wxapp.h5.auth import current_openid, trainee_required
from wxapp.logs import kv
from wxapp.sessions import keeps_cookie

log = logging.getLogger(__name__)

MAX_TAB = 64
MAX_BODY = 1024  # a heartbeat is under 150 bytes
UNRECORDED = "网络或服务器暂时异常，学习进度没有保存，视频已暂停。请稍等片刻再点播放继续学习。"
_DOWN = (redis_lib.RedisError, OperationalError, InterfaceError, PoolTimeout)
# Generous: a page beats every PLAY_HEARTBEAT_S and on each play, pause and seek. Counted per
# WeChat user (a whole company may share one NAT address) in the limiter's own Redis storage.
HEARTBEAT_LIMIT = parse("120 per minute")


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


def read_beat() -> Beat | None:
    """The heartbeat in the body; None for anything else (too long, not JSON, nested past reason)."""
    if (request.content_length or 0) > MAX_BODY:
        return None
    # sendBeacon posts text/plain: the body is JSON whatever the declared type.
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY:
        return None
    try:
        return parse_beat(json.loads(raw))
    except (ValueError, RecursionError):
        return None


def progress_json(progress: Progress) -> dict:
    check = None
    if progress.check is not None:
        check = {
            "id": progress.check.id,
            "qr_png": url_for("api.attendance_qr", check_id=progress.check.id),
            "expires_at": datetime.fromtimestamp(progress.check.expires_at, UTC).isoformat(),
        }
    return {"max_position": progress.max_position, "credited_seconds": progress.credited_seconds,
            "lesson_completed": progress.lesson_completed, "challenge": check}  # CONTRACT's key


@limiter.request_filter
def _counts_itself() -> bool:
    """The heartbeat hits its own limit below, in one Redis call: it skips the extension's
    resolution of limits on every request, which shows on the busiest route (see bench/heartbeat.py)."""
    return request.endpoint == "api.heartbeat"


@bp.post("/play/heartbeat")
@csrf.exempt
@keeps_cookie
def heartbeat():
    openid = current_openid()
    if openid is None:
        return jsonify(error="登录已失效，请从公众号菜单重新进入"), 401
    beat = read_beat()
    if beat is None:
        return jsonify(error="请求格式不正确"), 400
    try:
        if limiter.enabled and not limiter.limiter.hit(HEARTBEAT_LIMIT, "heartbeat", openid):
            return jsonify(error="操作过于频繁，请稍后再试"), 429
        progress = player().heartbeat(openid, beat, time.time())
    except Superseded as exc:  # CONTRACT §4: exactly {"error": "superseded"}; "closed" after an unbind
        return jsonify(error=exc.reason), 409
    except Contended as exc:
        return jsonify(error=exc.message), 503
    except ServiceError as exc:
        return jsonify(error=exc.message), 400
    except _DOWN as exc:
        rollback_quietly()
        log.warning(kv("heartbeat_unrecorded", error=type(exc).__name__))
        return jsonify(error=UNRECORDED), 503
    return jsonify(progress_json(progress))


def _own_check(check_id: str):
    check = attendance.by_id(redis_client(), db.session, check_id, time.time())
    return check if check is not None and check.trainee_id == g.trainee.id else None


@bp.get("/attendance/<check_id>")
@trainee_required
def attendance_status(check_id: str):
    check = _own_check(check_id)
    if check is None:
        return jsonify(error="没有这个考勤验证"), 404
    return jsonify(status=check.status)


@bp.get("/attendance/<check_id>/qr.png")
@trainee_required
def attendance_qr(check_id: str):
    check = _own_check(check_id)
    png = attendance.qr_png(redis_client(), check_id, links()) if check else None
    if png is None:
        return jsonify(error="没有这个考勤验证"), 404
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=600"})
