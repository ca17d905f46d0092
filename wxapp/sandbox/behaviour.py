"""The sandbox's WeChat as it really behaves: template dedup by client_msg_id, slow answers, 43101,
TEMPLATESENDJOBFINISH pushed back to `/wechat`, and the follower list (user/get, batchget).

`/dev/wechat` sets the development toggles (kept in Redis, so every process of `make run` sees
them): answer template sends N seconds late, answer 43101 (the trainee refused the template),
report `failed:user block` instead of `success`.
"""
from __future__ import annotations

import threading
import time

from flask import Flask, current_app, jsonify, redirect, render_template, request, url_for
from redis.typing import EncodableT, FieldT

from services import keys
from services.redis_tools import text
from wxapp.extensions import redis_client
from wxapp.sandbox import bp, callback

DEDUP_WINDOW_S = 600   # WeChat delivers one message per OpenID + client_msg_id within 10 minutes
PUSH_DELAY_S = 1.0     # WeChat reports a template's fate shortly after the send
MAX_SLOW_S = 30


def toggles() -> dict[str, str]:
    return {text(k) or "": text(v) or "" for k, v in redis_client().hgetall(keys.sandbox_behaviour()).items()}


def template_answer(body: dict, new_msgid) -> tuple[dict, float]:
    """(the JSON answer to a template send, how long to wait before answering)."""
    settings = toggles()
    if settings.get("refuse") == "1":
        return {"errcode": 43101, "errmsg": "user refuse to accept the msg"}, 0.0
    openid, client_msg_id = str(body["touser"]), body.get("client_msg_id")
    msgid = new_msgid()
    if client_msg_id:
        # SET NX GET: the first send of this client_msg_id keeps its msgid; a resend gets it back.
        earlier = redis_client().set(keys.sandbox_template_sent(openid, str(client_msg_id)), msgid,
                                     nx=True, get=True, ex=DEDUP_WINDOW_S)
        if earlier is not None:
            return {"errcode": 0, "errmsg": "ok", "msgid": int(earlier)}, _slow(settings)
    status = "failed:user block" if settings.get("block") == "1" else "success"
    _push_job_finish(current_app._get_current_object(), openid, msgid, status)  # type: ignore[attr-defined]
    return {"errcode": 0, "errmsg": "ok", "msgid": msgid}, _slow(settings)


def _slow(settings: dict[str, str]) -> float:
    try:
        return min(max(float(settings.get("slow_s") or 0), 0.0), MAX_SLOW_S)
    except ValueError:
        return 0.0


def _push_job_finish(app: Flask, openid: str, msgid: int, status: str) -> None:
    xml = (f"<xml><ToUserName><![CDATA[gh_sandbox]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
           f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
           f"<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{msgid}</MsgID>"
           f"<Status><![CDATA[{status}]]></Status></xml>")

    def push() -> None:
        with app.app_context():
            callback.post(app, xml)

    timer = threading.Timer(PUSH_DELAY_S, push)
    timer.daemon = True
    timer.start()


@bp.get("/api/cgi-bin/user/get")
def user_get():
    followers = sorted(text(m) or "" for m in redis_client().smembers(keys.sandbox_followers()))
    after = request.args.get("next_openid") or ""
    page = [o for o in followers if o > after][:10_000]
    return jsonify(total=len(followers), count=len(page), data={"openid": page} if page else {},
                   next_openid=page[-1] if page else "")


@bp.post("/api/cgi-bin/user/info/batchget")
def user_batchget():
    users = (request.get_json(force=True, silent=True) or {}).get("user_list") or []
    if not isinstance(users, list) or len(users) > 100:
        return jsonify(errcode=45033, errmsg="user_list size exceeds limit")
    redis = redis_client()
    infos = []
    for user in users:
        openid = str((user or {}).get("openid") or "")
        follows = redis.sismember(keys.sandbox_followers(), openid)
        infos.append({"subscribe": 1, "openid": openid, "nickname": ""} if follows
                     else {"subscribe": 0, "openid": openid})
    return jsonify(user_info_list=infos)


@bp.route("/wechat", methods=["GET", "POST"])
def behaviour():
    """The development toggles of the sandbox's WeChat."""
    if request.method == "POST":
        values: dict[FieldT, EncodableT] = {"slow_s": request.form.get("slow_s", "0").strip() or "0",
                  "refuse": "1" if request.form.get("refuse") else "0",
                  "block": "1" if request.form.get("block") else "0"}
        redis_client().hset(keys.sandbox_behaviour(), mapping=values)
        return redirect(url_for("sandbox.behaviour"), code=303)
    return render_template("sandbox/wechat.html", settings=toggles())
