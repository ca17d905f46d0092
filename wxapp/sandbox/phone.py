"""`/dev/phone`: a phone simulator, the whole product on one laptop (development only).

The page draws a phone with the account's chat and the menu of `menu.json`. What the persona
does goes to the real `/wechat` callback exactly as WeChat's servers send it (signed as
`sandbox/chat.py` signs, and encrypted when WECHAT_AES_KEY is set, as WeChat then does); the
reply comes back as WeChat shows it: text with links, or news cards. Links open inside the
phone through `/dev/oauth`, i.e. through the real OAuth return, as the persona's OpenID.
What the server sends the persona later (template and customer-service messages, SMS) is read
from the sandbox log (`wxapp.sandbox.log`); an SMS shows on the persona whose phone it went to, as
the phone would show it: the SMS template's wording (`notice_templates.json`) with its parameters.
扫一扫 decodes the QR shown in the phone in the page itself, with the vendored jsQR
(`scripts/vendor-assets`): zxing-cpp is a test dependency only.
"""
from __future__ import annotations

import secrets
import time
from pathlib import Path
from xml.etree.ElementTree import fromstring

from flask import current_app, jsonify, render_template, request, send_from_directory
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from services.demo import DEMO_TRAINEES
from services.identity.pii import mask_phone
from services.menu import MenuError, load_menu
from services.notices import notices
from services.notices.notice_templates import SmsTemplate
from wxapp import config
from wxapp.extensions import notice_desk, redis_client
from wxapp.sandbox import bp
from wxapp.sandbox import log as sandbox_log
from wxapp.sandbox.chat import _message, _segments

STATIC = Path(__file__).with_name("static")
STRANGER = {"key": "stranger", "name": "陌生人（未报名）", "openid": "oDevPhoneStranger00000000001",
            "phone": "", "id_card": ""}
NOTICE_LABELS = notices.KIND_LABELS
TEMPLATE_PATH, CUSTOM_PATH, SMS_PATH = "cgi-bin/message/template/send", "cgi-bin/message/custom/send", "sms/send"


def personas() -> list[dict]:
    """The demo trainees (each with an OpenID of its own, not yet bound), the first of them again on
    a second WeChat, and a stranger."""
    people = [{"key": p.phone, "name": f"{p.name}（演示学员）", "openid": f"oDevPhone{p.phone}00000000",
               "phone": p.phone, "id_card": p.id_card} for p in DEMO_TRAINEES]
    first = DEMO_TRAINEES[0]  # the same person on a new WeChat (same phone): to try 更换绑定的微信
    moved = {"key": f"{first.phone}-new", "name": f"{first.name}（换了新微信）",
             "openid": f"oDevPhone{first.phone}NewWx000", "phone": first.phone, "id_card": first.id_card}
    return people + [moved, STRANGER]


@bp.get("/phone")
def phone():
    try:
        menu = load_menu()["button"]
    except MenuError:
        menu = []
    return render_template("sandbox/phone.html", personas=personas(), menu=menu,
                           encrypted=bool(config.current().wechat_aes_key))


@bp.get("/phone/static/<path:name>")
def phone_static(name: str):
    return send_from_directory(STATIC, name, max_age=300)


@bp.post("/phone/send")
def phone_send():
    """{openid, key | event | text} → {"sent", "status", "reply": null | text | news}."""
    data = request.get_json(silent=True) or {}
    openid = str(data.get("openid") or "").strip()[:64]
    if not openid:
        return jsonify(error="缺少 OpenID"), 400
    form = {k: str(data[k])[:600] for k in ("key", "event", "text") if data.get(k) is not None}
    sent, xml = _message(openid, form, _button_names())
    status, reply = _post_callback(xml)
    return jsonify(sent=sent, status=status, reply=_reply_json(reply) if reply else None)


@bp.get("/phone/inbox")
def phone_inbox():
    """What the server sent this persona since the app started recording: newest last."""
    openid = request.args.get("openid", "")
    masked = mask_phone(next((p["phone"] for p in personas() if p["openid"] == openid), ""))
    items = []
    for entry in reversed(sandbox_log.entries(redis_client())):
        item = _inbox_item(entry, openid, masked)
        if item is not None:
            items.append({"id": f"{entry.at.isoformat()}|{entry.path}", **item})
    return jsonify(items)


def _button_names() -> dict[str, str]:
    try:
        buttons = load_menu()["button"]
    except MenuError:
        return {}
    return {b["key"]: b["name"] for top in buttons for b in top.get("sub_button", [top]) if b.get("key")}


def _post_callback(xml: str) -> tuple[int, str]:
    """Posts to /wechat as WeChat would: signed, and encrypted when an AES key is set. (status, reply XML)."""
    settings = config.current()
    timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
    signer = WeChatSigner()
    signer.add_data(settings.wechat_token, timestamp, nonce)
    query = {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce}
    crypto = WeChatCrypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid) \
        if settings.wechat_aes_key else None
    body = xml
    if crypto is not None:
        envelope = fromstring(crypto.encrypt_message(xml, nonce, timestamp))
        query.update(encrypt_type="aes", msg_signature=envelope.findtext("MsgSignature") or "")
        body = f"<xml><ToUserName>gh_sandbox</ToUserName><Encrypt>{envelope.findtext('Encrypt')}</Encrypt></xml>"
    response = current_app.test_client().post("/wechat", query_string=query, data=body.encode(),
                                              content_type="text/xml")
    reply = response.get_data(as_text=True)
    if response.status_code != 200 or reply in ("", "success"):
        return response.status_code, ""
    if crypto is not None:
        sealed = fromstring(reply)
        reply = crypto.decrypt_message(reply, sealed.findtext("MsgSignature"), sealed.findtext("TimeStamp"),
                                       sealed.findtext("Nonce"))
    return 200, reply


def _reply_json(reply_xml: str) -> dict:
    reply = fromstring(reply_xml)  # our own answer: no DTD to fear
    if reply.findtext("MsgType") == "text":
        return {"type": "text", "segments": _segments(reply.findtext("Content") or "")}
    return {"type": "news", "articles": [
        {"title": item.findtext("Title") or "", "description": item.findtext("Description") or "",
         "url": item.findtext("Url") or "", "image": item.findtext("PicUrl") or ""}
        for item in reply.iter("item")]}


def _inbox_item(entry, openid: str, masked_phone: str) -> dict | None:
    body = entry.body if isinstance(entry.body, dict) else {}
    if entry.channel == "wechat" and entry.path == TEMPLATE_PATH and body.get("touser") == openid:
        values = [str((field or {}).get("value", "")) for field in (body.get("data") or {}).values()]
        return {"kind": "template", "title": _template_title(body.get("template_id")), "lines": values,
                "url": body.get("url") or ""}
    if entry.channel == "wechat" and entry.path == CUSTOM_PATH and body.get("touser") == openid:
        content = ((body.get("text") or {}).get("content")) or f"[{body.get('msgtype', '消息')}]"
        return {"kind": "text", "segments": _segments(content)}
    if entry.channel == "sms" and masked_phone and body.get("phone") == masked_phone:
        return {"kind": "sms", "title": f"短信（发往 {masked_phone}）", "lines": [_sms_text(body)]}
    return None


def _sms_text(body: dict) -> str:
    """The text as the phone shows it: the SMS template's wording with the parameters sent."""
    params = {str(k): str(v) for k, v in (body.get("params") or {}).items()}
    sign_name = str(body.get("sign_name") or "")
    code = str(body.get("template_code") or "")
    template = next((t.sms for t in notice_desk().templates.values() if t.sms.template_code == code),
                    SmsTemplate(code, {}))
    return template.full_text(sign_name, params)


def _template_title(template_id: str | None) -> str:
    for kind, templates in notice_desk().templates.items():
        if template_id and templates.wechat.template_id == template_id:
            return NOTICE_LABELS.get(kind, kind)
    return "模板消息"
