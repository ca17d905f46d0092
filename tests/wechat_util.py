"""Builds callbacks the way WeChat's servers send them: signed, optionally encrypted."""
from __future__ import annotations

import hashlib
import time
import uuid

from wechatpy.crypto import WeChatCrypto


def sign(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def query(token: str, timestamp: str | None = None, nonce: str | None = None, **extra) -> dict:
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or uuid.uuid4().hex[:10]
    return {"signature": sign(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce, **extra}


def event_xml(openid: str, event: str, key: str = "", create_time: int | None = None,
              to: str = "gh_test") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
        f"<EventKey><![CDATA[{key}]]></EventKey></xml>"
    )


def text_xml(openid: str, content: str, msg_id: int, to: str = "gh_test") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


class WeChatServer:
    """Posts callbacks to a Flask test client as WeChat would, plain or encrypted."""

    def __init__(self, client, token: str, aes_key: str | None = None, appid: str | None = None):
        self.client, self.token = client, token
        self.crypto = WeChatCrypto(token, aes_key, appid) if aes_key else None

    def post(self, xml: str, **params):
        return self.client.post("/wechat", query_string=query(self.token, **params), data=xml.encode(),
                                content_type="text/xml")

    def post_encrypted(self, xml: str, compatible: bool = False):
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
        envelope = self.crypto.encrypt_message(xml, nonce, timestamp)
        msg_signature = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        encrypt = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
        body = f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        if compatible:
            body = xml.replace("</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
        params = query(self.token, timestamp, nonce, encrypt_type="aes", msg_signature=msg_signature)
        return self.client.post("/wechat", query_string=params, data=body.encode(), content_type="text/xml")

    def decrypt_reply(self, response) -> str:
        import xmltodict

        doc = xmltodict.parse(response.data)["xml"]
        return self.crypto.decrypt_message(response.data, doc["MsgSignature"], doc["TimeStamp"], doc["Nonce"])


def reply_content(xml: str | bytes) -> str:
    import xmltodict

    return xmltodict.parse(xml)["xml"]["Content"]
