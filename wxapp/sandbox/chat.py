"""`/dev/chat`: the WeChat app's side of the chat, for development without a WeChat account.

A menu click, a text or a follow is sent to the real `/wechat` callback, signed as WeChat's
servers sign it, and the reply is shown as the trainee would read it. Together with
`/dev/oauth` (the H5 pages as any OpenID) it lets `make run` show the whole account.
"""
from __future__ import annotations

import re
import secrets
import time
from urllib.parse import parse_qsl, urlsplit
from xml.etree.ElementTree import fromstring
from xml.sax.saxutils import escape

from flask import current_app, render_template, request, url_for

from services import keys
from services.menu import MenuError, load_menu
from wxapp import config
from wxapp.extensions import redis_client
from wxapp.sandbox import bp, callback

DEFAULT_OPENID = "oDevTrainee000000000000001"
# WeChat shows <a href="…">…</a> in a text reply as a link, and the rest as text.
_LINK = re.compile(r'<a href="([^"<>]+)">([^<]*)</a>')
EVENTS = {"subscribe": "关注公众号", "unsubscribe": "取消关注"}
OAUTH_AUTHORIZE = "https://open.weixin.qq.com/connect/oauth2/authorize"


@bp.route("/chat", methods=["GET", "POST"])
def chat():
    openid = (request.values.get("openid") or DEFAULT_OPENID).strip()
    exchange = None
    buttons = _menu_buttons()
    if request.method == "POST":
        sent, xml = _message(openid, request.form, {b["key"]: b["name"] for b in buttons})
        _follows(openid, request.form)
        status, reply = _post_callback(xml)
        lines = [[(text, _through_sandbox_oauth(url, openid) if url else "") for text, url in _segments(line)]
                 for line in reply]
        exchange = {"sent": sent, "status": status, "reply": lines}
    return render_template("sandbox/chat.html", openid=openid, buttons=buttons, events=EVENTS, exchange=exchange)


def _segments(text: str) -> list[tuple[str, str]]:
    """A reply line as (text, link URL or '') pieces, the way WeChat shows it."""
    pieces, at = [], 0
    for match in _LINK.finditer(text):
        pieces += [(text[at:match.start()], ""), (match.group(2), match.group(1))]
        at = match.end()
    return pieces + [(text[at:], "")]


def _menu_buttons() -> list[dict]:
    """The CLICK buttons of menu.json, sub-buttons flattened: [{"name", "key"}]."""
    try:
        menu = load_menu()
    except MenuError:
        return []
    flat = [sub for button in menu["button"] for sub in button.get("sub_button", [button])]
    return [{"name": b["name"], "key": b["key"]} for b in flat if b.get("type") == "click"]


def _message(openid: str, form, names: dict[str, str]) -> tuple[str, str]:
    """(what was sent, in words; the callback XML WeChat would post)."""
    head = (f"<ToUserName>gh_sandbox</ToUserName><FromUserName>{escape(openid)}</FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime>")
    if form.get("key"):
        return (f"点击菜单「{names.get(form['key'], form['key'])}」",
                f"<xml>{head}<MsgType>event</MsgType><Event>CLICK</Event><EventKey>{escape(form['key'])}</EventKey></xml>")
    if form.get("event") in EVENTS:
        return (EVENTS[form["event"]],
                f"<xml>{head}<MsgType>event</MsgType><Event>{form['event']}</Event></xml>")
    text = form.get("text", "")
    return (f"发送文字“{text}”",
            f"<xml>{head}<MsgType>text</MsgType><Content>{escape(text)}</Content>"
            f"<MsgId>{secrets.randbits(62)}</MsgId></xml>")


def _post_callback(xml: str) -> tuple[int, list[str]]:
    """Posts to /wechat as WeChat would (encrypted when the app has an AES key); (status, the
    reply as lines to show)."""
    status, body = callback.post(current_app._get_current_object(), xml)  # type: ignore[attr-defined]
    if status != 200 or body == "success":
        return status, []
    reply = fromstring(body)  # our own answer: no DTD to fear
    if reply.findtext("MsgType") == "text":
        return 200, [reply.findtext("Content") or ""]
    return 200, [f"{item.findtext('Title')}\n{item.findtext('Description')}\n{item.findtext('Url')}"
                 for item in reply.iter("item")]


def _follows(openid: str, form) -> None:
    """The sandbox account's follower list (what its user/get answers): anyone who writes or
    clicks follows; `unsubscribe` leaves."""
    if form.get("event") == "unsubscribe":
        redis_client().srem(keys.sandbox_followers(), openid)
    else:
        redis_client().sadd(keys.sandbox_followers(), openid)


def _through_sandbox_oauth(url: str, openid: str) -> str:
    """A link to the trainee pages opens through the sandbox's OAuth page as the chat's OpenID,
    as WeChat's in-app browser would through open.weixin.qq.com (a dead end offline)."""
    base = config.current().public_base_url
    if url.startswith(OAUTH_AUTHORIZE):
        target = dict(parse_qsl(urlsplit(url).query)).get("redirect_uri", "")
        url = target if target.startswith(base) else url
    if url.startswith(base + "/h5/"):
        path = url[len(base):]
        return url_for("sandbox.oauth", openid=openid, next=path)
    return url
