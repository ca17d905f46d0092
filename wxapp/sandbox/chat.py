"""`/dev/chat`: the WeChat app's side of the chat, for development without a WeChat account.

A menu click, a text or a follow is sent to the real `/wechat` callback, signed as WeChat's
servers sign it, and the reply is shown as the trainee would read it. Together with
`/dev/oauth` (the H5 pages as any OpenID) it lets `make run` show the whole account.
"""
from __future__ import annotations

import re
import secrets
import time
from xml.etree.ElementTree import fromstring
from xml.sax.saxutils import escape

from flask import current_app, render_template, request
from wechatpy.utils import WeChatSigner

from services.menu import MenuError, load_menu
from wxapp.sandbox import bp

DEFAULT_OPENID = "oDevTrainee000000000000001"
# WeChat shows <a href="…">…</a> in a text reply as a link, and the rest as text.
_LINK = re.compile(r'<a href="([^"<>]+)">([^<]*)</a>')
EVENTS = {"subscribe": "关注公众号", "unsubscribe": "取消关注"}


@bp.route("/chat", methods=["GET", "POST"])
def chat():
    openid = (request.values.get("openid") or DEFAULT_OPENID).strip()
    exchange = None
    buttons = _menu_buttons()
    if request.method == "POST":
        sent, xml = _message(openid, request.form, {b["key"]: b["name"] for b in buttons})
        status, reply = _post_callback(xml)
        exchange = {"sent": sent, "status": status, "reply": [_segments(line) for line in reply]}
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
    """Posts to /wechat as WeChat would (plaintext mode); (status, the reply as lines to show)."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
    signer = WeChatSigner()  # what check_signature checks on the other side
    signer.add_data(current_app.config["WECHAT_TOKEN"], timestamp, nonce)
    response = current_app.test_client().post(
        "/wechat", query_string={"signature": signer.signature, "timestamp": timestamp, "nonce": nonce},
        data=xml.encode(), content_type="text/xml")
    body = response.get_data(as_text=True)
    if response.status_code != 200 or body == "success":
        return response.status_code, []
    reply = fromstring(body)  # our own answer: no DTD to fear
    if reply.findtext("MsgType") == "text":
        return 200, [reply.findtext("Content") or ""]
    return 200, [f"{item.findtext('Title')}\n{item.findtext('Description')}\n{item.findtext('Url')}"
                 for item in reply.iter("item")]
