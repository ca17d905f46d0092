"""The attendance checks' JSON (CONTRACT §4): a check's status and its QR, for the trainee's own
checks only. The GETs change nothing. (The heartbeat is answered in front of Flask: heartbeat.py.)
"""
from __future__ import annotations

import time

from flask import Response, g, jsonify

from services.study import attendance
from wxapp.api import bp
from wxapp.extensions import db, links, redis_client
from wxapp.h5.auth import trainee_required


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
