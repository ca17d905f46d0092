"""Posts to the app's own `/wechat` as WeChat's servers do: signed, fresh timestamp and nonce, and
encrypted (安全模式) when WECHAT_AES_KEY is set, since the callback then refuses plaintext.

Used by `/dev/chat` (the trainee's side) and by the API stand-in's TEMPLATESENDJOBFINISH pushes.
"""
from __future__ import annotations

import secrets
import time

from flask import Flask
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from wxapp import config


def post(app: Flask, xml: str) -> tuple[int, str]:
    """(status, the plaintext reply body) of one callback."""
    settings = config.of(app)
    timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
    signer = WeChatSigner()  # what check_signature checks on the other side
    signer.add_data(settings.wechat_token, timestamp, nonce)
    query = {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce}
    crypto = WeChatCrypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid) \
        if settings.wechat_aes_key else None
    if crypto is not None:
        envelope = crypto.encrypt_message(xml, nonce, timestamp)
        encrypt = _between(envelope, "<Encrypt><![CDATA[", "]]>")
        query.update(encrypt_type="aes", msg_signature=_between(envelope, "<MsgSignature><![CDATA[", "]]>"))
        xml = f"<xml><ToUserName><![CDATA[gh_sandbox]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    response = app.test_client().post("/wechat", query_string=query, data=xml.encode(), content_type="text/xml")
    body = response.get_data(as_text=True)
    if crypto is not None and response.status_code == 200 and body.startswith("<xml>"):
        body = crypto.decrypt_message(body, _between(body, "<MsgSignature><![CDATA[", "]]>"),
                                      _between(body, "<TimeStamp>", "</TimeStamp>"),
                                      _between(body, "<Nonce><![CDATA[", "]]>"))
    return response.status_code, body


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]
