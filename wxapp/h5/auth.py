"""Who is on an H5 page: WeChat OAuth2 `snsapi_base`, then the OpenID in the signed session cookie.

A page without a session sends the browser to WeChat's authorize URL with a random state kept
in a cookie of its own (so it is tied to this browser and used once); WeChat sends it back to `/h5/oauth`
with a code, which is exchanged through WECHAT_API_BASE for the OpenID.
"""
from __future__ import annotations

import hmac
import logging
import secrets
from functools import wraps
from urllib.parse import quote, urlsplit

from flask import (
    Response,
    abort,
    after_this_request,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from itsdangerous import BadSignature, URLSafeTimedSerializer

from services.identity import followers
from services.identity.pii import short_openid
from services.wechat_api import WeChatApiError
from wxapp import config
from wxapp.extensions import db, wechat_api
from wxapp.h5 import bp
from wxapp.h5.expired import TYPED_KEY, carried_over
from wxapp.logs import kv

log = logging.getLogger(__name__)

AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
DEFAULT_NEXT = "/h5/learn"
OAUTH_COOKIE = "wxapp_oauth"
# WeChat's answers to an OAuth code it won't exchange: invalid, and used already.
CODE_SPENT = frozenset({40029, 40163})
OAUTH_MAX_AGE_S = 1800  # WeChat's authorize step is silent (snsapi_base): seconds, unless a person stops there


def safe_next(path: str | None) -> str:
    """Only a path of this site: no scheme, no host, no `//evil` or `/\\evil`."""
    if not path or not path.startswith("/") or path.startswith(("//", "/\\")):
        return DEFAULT_NEXT
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or "\\" in path or any(ord(c) < 32 for c in path):
        return DEFAULT_NEXT
    return path


def begin_oauth(next_path: str | None, again: bool = False) -> str:
    """Remembers where to go back to under a fresh state, in a signed cookie of its own that only
    `/h5/oauth` receives; returns the state.

    Not in the session cookie: a page already open in the same WeChat (the player, whose attendance
    QR the trainee long-presses to scan) may have a request under way, and its answer sets the
    session cookie back as it read it, without the state: the return then found none and said
    登录链接已失效.

    `again`: the dance is being made a second time, after WeChat refused the first code."""
    state = secrets.token_urlsafe(24)
    pending = _oauth_signer().dumps({"state": state, "next": safe_next(next_path), **({"again": 1} if again else {})})

    @after_this_request
    def remember(response: Response) -> Response:
        response.set_cookie(OAUTH_COOKIE, pending, max_age=OAUTH_MAX_AGE_S, path=url_for("h5.oauth_return"),
                            secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True, samesite="Lax")
        return response

    return state


def _pending_oauth() -> dict | None:
    """The state and destination `begin_oauth` left in this browser, used once; None if none or forged."""
    path = url_for("h5.oauth_return")

    @after_this_request
    def forget(response: Response) -> Response:
        response.delete_cookie(OAUTH_COOKIE, path=path, secure=current_app.config["SESSION_COOKIE_SECURE"],
                               httponly=True, samesite="Lax")
        return response

    earlier = session.pop("oauth", None)  # a return begun before this release kept it in the session
    raw = request.cookies.get(OAUTH_COOKIE)
    if not raw:
        return earlier
    try:
        found = _oauth_signer().loads(raw, max_age=OAUTH_MAX_AGE_S)
    except BadSignature:
        return None
    return found if isinstance(found, dict) and "state" in found and "next" in found else None


def _oauth_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt="wxapp-oauth-state")


def authorize_url(state: str) -> str:
    redirect_uri = config.current().public_base_url + url_for("h5.oauth_return")
    return (f"{AUTHORIZE_URL}?appid={config.current().wechat_appid}"
            f"&redirect_uri={quote(redirect_uri, safe='')}&response_type=code&scope=snsapi_base"
            f"&state={state}#wechat_redirect")


def current_openid() -> str | None:
    return session.get("openid")


def signed_in_openid() -> str:
    """The OpenID of a view behind `openid_required` or `trainee_required` (which saw one)."""
    openid = current_openid()
    if openid is None:  # a view not behind either: the API's answer to a missing login
        abort(401)
    return openid


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def openid_required(view):
    """Any WeChat user: pages start the OAuth dance, the JSON API answers 401."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_openid() is None:
            if _wants_json():
                return jsonify(error="登录已失效，请从公众号菜单重新进入"), 401
            path = request.full_path if request.query_string else request.path
            return redirect(authorize_url(begin_oauth(path)), 302)
        return view(*args, **kwargs)

    return wrapper


def trainee_required(view):
    """A bound trainee, in `g.trainee`; others are sent to 认证登录 first."""

    @wraps(view)
    @openid_required
    def wrapper(*args, **kwargs):
        g.trainee = followers.bound_trainee(db.session, signed_in_openid())
        if g.trainee is None:
            if _wants_json():
                return jsonify(error="请先完成认证登录"), 403
            return redirect(url_for("h5.bind"), 302)
        return view(*args, **kwargs)

    return wrapper


def error_page(message: str, status: int = 400):
    return render_template("h5/error.html", message=message), status


@bp.get("/oauth")
def oauth_return():
    pending = _pending_oauth()
    state, code = request.args.get("state", ""), request.args.get("code", "")
    if not pending or not code or not hmac.compare_digest(state.encode(), pending["state"].encode()):
        session.clear()
        return error_page("登录链接已失效，请返回公众号，从菜单重新进入。")
    try:
        result = wechat_api().oauth_openid(code)
    except WeChatApiError as exc:
        session.clear()
        log.warning(kv("oauth_refused", errcode=exc.errcode, again=bool(pending.get("again"))))
        if exc.errcode in CODE_SPENT and not pending.get("again"):
            # Used already (a host that exchanged it died before answering, and the proxy asked another;
            # a return reloaded): a fresh code costs the trainee nothing, snsapi_base asks no one.
            return redirect(authorize_url(begin_oauth(pending["next"], again=True)), 302)
        return error_page("微信授权没有成功，请返回公众号，从菜单重新进入。")
    if result.is_snapshot:
        session.clear()
        return error_page("当前是预览页面，请点击页面下方的“使用完整服务”后再继续。")
    typed = carried_over()  # a refused form's input (never an ID card) waits for its page
    session.clear()  # a fresh session for a fresh identity: no fixation
    session.permanent = True
    session["openid"] = result.openid
    if typed is not None:
        session[TYPED_KEY] = typed
    log.info(kv("oauth_login", openid=short_openid(result.openid)))
    return redirect(pending["next"], 302)
