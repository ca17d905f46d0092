"""`/dev/api/...`: answers like WeChat's API (errcode 0, tokens, msgids, tickets) and records each call.

Tokens are checked as WeChat does: a call with a token the sandbox did not issue, or one that
expired, gets 40001, so the client's refresh-and-retry path runs in development too.
"""
from __future__ import annotations

import secrets
import time

from flask import jsonify, request

from services import keys
from services.redis_tools import text
from wxapp.extensions import redis_client
from wxapp.sandbox import behaviour, bp
from wxapp.sandbox import log as sandbox_log

TOKEN_TTL_S = 7200


@bp.before_request
def record_api_call():
    if request.path.startswith("/dev/api/"):
        sandbox_log.record(
            redis_client(), "wechat", request.method, request.path.removeprefix("/dev/api/"),
            body=request.get_json(force=True, silent=True), query=request.args.to_dict(),
        )


def _body() -> dict:
    # wechatpy posts JSON without a JSON Content-Type, and WeChat accepts it: so do we.
    body = request.get_json(force=True, silent=True)
    return body if isinstance(body, dict) else {}


def _error(errcode: int, errmsg: str):
    return jsonify(errcode=errcode, errmsg=errmsg)


def _issue_token(appid: str) -> str:
    token = "sandbox-" + secrets.token_urlsafe(24)
    redis = redis_client()
    redis.set(keys.sandbox_token(token), appid, ex=TOKEN_TTL_S)
    redis.set(keys.sandbox_current_token(appid), token, ex=TOKEN_TTL_S)
    return token


def _token_answer(token: str):
    ttl = redis_client().ttl(keys.sandbox_token(token))
    return jsonify(access_token=token, expires_in=ttl if ttl > 0 else TOKEN_TTL_S)


def _serial() -> int:
    return int(redis_client().incr(keys.sandbox_counter()))


# The calls that fetch a token need none; every other cgi-bin call is refused without a valid one.
TOKEN_FREE = ("/dev/api/cgi-bin/token", "/dev/api/cgi-bin/stable_token")


@bp.before_request
def require_token():
    if not request.path.startswith("/dev/api/cgi-bin/") or request.path in TOKEN_FREE:
        return None
    token = request.args.get("access_token", "")
    if token and redis_client().exists(keys.sandbox_token(token)) == 1:
        return None
    return _error(40001, "invalid credential, access_token is invalid or not latest")


@bp.get("/api/cgi-bin/token")
def token():
    appid = request.args.get("appid")
    if not appid or not request.args.get("secret"):
        return _error(41002, "appid missing")
    return _token_answer(_issue_token(appid))


@bp.post("/api/cgi-bin/stable_token")
def stable_token():
    body = _body()
    appid = body.get("appid")
    if not appid or not body.get("secret"):
        return _error(41002, "appid missing")
    current = redis_client().get(keys.sandbox_current_token(appid))
    if current is None or body.get("force_refresh"):
        return _token_answer(_issue_token(appid))
    return _token_answer(text(current) or "")


@bp.post("/api/cgi-bin/menu/create")
def menu_create():
    if not isinstance(_body().get("button"), list):
        return _error(40016, "invalid button size")
    return _error(0, "ok")


@bp.post("/api/cgi-bin/message/template/send")
def template_send():
    body = _body()
    if not body.get("touser"):
        return _error(40003, "invalid openid")
    if not body.get("template_id"):
        return _error(40037, "invalid template_id")
    answer, delay_s = behaviour.template_answer(body, _serial)
    time.sleep(delay_s)  # delivered already, answered late: the development toggle at /dev/wechat
    return jsonify(answer)


@bp.post("/api/cgi-bin/message/custom/send")
def custom_send():
    if not _body().get("touser"):
        return _error(40003, "invalid openid")
    return _error(0, "ok")


@bp.post("/api/cgi-bin/qrcode/create")
def qrcode_create():
    body = _body()
    scene = ((body.get("action_info") or {}).get("scene") or {})
    if not (scene.get("scene_str") or scene.get("scene_id")):
        return _error(40097, "invalid args")
    serial = _serial()
    return jsonify(
        ticket=f"sandbox-ticket-{serial}", expire_seconds=int(body.get("expire_seconds") or 60),
        url=f"http://weixin.qq.com/q/sandbox{serial}",
    )


@bp.get("/api/sns/oauth2/access_token")
def oauth_access_token():
    code = request.args.get("code", "")
    if request.args.get("grant_type") != "authorization_code" or not code.startswith("sandbox-"):
        return _error(40029, "invalid code")
    openid = code.removeprefix("sandbox-")
    if not openid:
        return _error(40029, "invalid code")
    return jsonify(
        access_token="sandbox-oauth-" + secrets.token_urlsafe(12), expires_in=TOKEN_TTL_S,
        refresh_token="sandbox-refresh-" + secrets.token_urlsafe(12), openid=openid, scope="snsapi_base",
    )
