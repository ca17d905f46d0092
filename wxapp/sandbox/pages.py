"""`GET /dev/`: what the sandbox "sent" (WeChat calls, SMS), newest first; `POST /dev/clear` empties it."""
from __future__ import annotations

import json

from flask import redirect, render_template, url_for

from services.timeutil import SHANGHAI
from wxapp.extensions import redis_client
from wxapp.sandbox import bp
from wxapp.sandbox import log as sandbox_log

CHANNELS = {"wechat": "微信接口", "sms": "短信"}


@bp.get("/")
def index():
    rows = [
        {
            "at": entry.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
            "channel": CHANNELS.get(entry.channel, entry.channel),
            "method": entry.method,
            "path": entry.path,
            "query": entry.query,
            "body": None if entry.body is None else json.dumps(entry.body, ensure_ascii=False, indent=2),
        }
        for entry in sandbox_log.entries(redis_client())
    ]
    return render_template("sandbox/index.html", rows=rows, limit=sandbox_log.MAX_ENTRIES)


@bp.post("/clear")
def clear():
    sandbox_log.clear(redis_client())
    return redirect(url_for("sandbox.index"), code=303)


@bp.get("/oauth")
def oauth():
    """Stands in for WeChat's authorize page: opens an H5 page as the OpenID typed in, through
    the real OAuth return and code exchange (the code `sandbox-<openid>` is answered by /dev/api)."""
    from flask import request

    from wxapp.h5.auth import begin_oauth

    openid = (request.args.get("openid") or "").strip()
    if not openid:
        return render_template("sandbox/oauth.html")
    state = begin_oauth(request.args.get("next"))
    return redirect(url_for("h5.oauth_return", code=f"sandbox-{openid}", state=state), code=302)
