"""Signature checks, hostile-XML screening, and AES decryption/encryption of callbacks."""
from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError, fromstring

from wechatpy.crypto import WeChatCrypto
from wechatpy.events import EVENT_TYPES
from wechatpy.messages import MESSAGE_TYPES, UnknownMessage
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

# A WeChat callback never declares a DTD or entities: refuse them before any parser runs. The
# check is made on the decoded text (WeChat sends UTF-8 only), so another encoding can't hide one,
# and a document without a DTD can neither expand nor fetch an entity.
_HOSTILE = re.compile(r"<!(DOCTYPE|ENTITY)|<\?xml-stylesheet", re.IGNORECASE)


class BadSignature(Exception):
    pass


class BadPayload(Exception):
    pass


def signature_ok(token: str, signature: str | None, timestamp: str | None, nonce: str | None) -> bool:
    if not (signature and timestamp and nonce):
        return False
    try:
        check_signature(token, signature, timestamp, nonce)
    except InvalidSignatureException:
        return False
    return True


def screen(body: bytes | str, limit: int) -> str:
    """The body as text; refuses an oversized body, one not in UTF-8, or one with a DTD,
    entity or stylesheet declaration."""
    if len(body) > limit:
        raise BadPayload("body too large")
    try:
        text = body if isinstance(body, str) else body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadPayload("not UTF-8") from None
    if _HOSTILE.search(text):
        raise BadPayload("DTD or entity declaration")
    return text


def parse_fields(xml: str) -> dict:
    """The fields of a screened WeChat `<xml>` document (nested elements as dicts), or BadPayload."""
    try:
        root = fromstring(xml)
    except (ParseError, ValueError) as exc:
        raise BadPayload(type(exc).__name__) from None
    if root.tag != "xml":
        raise BadPayload("root element is not <xml>")
    return _children(root)


def _children(element: Element) -> dict:
    return {child.tag: _children(child) if len(child) else child.text for child in element}


def to_message(fields: dict):
    """wechatpy's message or event object for parsed fields (what `parse_message` does, without
    parsing the XML a second time). A scan-to-follow `subscribe` becomes `subscribe_scan`."""
    msg_type = fields.get("MsgType")
    if not isinstance(msg_type, str) or not isinstance(fields.get("FromUserName"), str):
        raise BadPayload("MsgType or FromUserName missing")
    if msg_type.lower() != "event":
        return MESSAGE_TYPES.get(msg_type.lower(), UnknownMessage)(fields)
    event, key = str(fields.get("Event") or "").lower(), fields.get("EventKey")
    if event == "subscribe" and isinstance(key, str) and key.startswith("qrscene_"):
        event = "subscribe_scan"
        fields = {**fields, "Event": event, "EventKey": key[len("qrscene_"):]}
    return EVENT_TYPES.get(event, UnknownMessage)(fields)


class Cryptor:
    """Safe / compatible mode. Tries the current EncodingAESKey, then the previous one, as
    WeChat advises during a key change."""

    def __init__(self, token: str, appid: str, keys: list[str]):
        self._cryptos = [WeChatCrypto(token, key, appid) for key in keys]

    def decrypt(self, body: str, msg_signature: str, timestamp: str, nonce: str) -> str:
        if not msg_signature:
            raise BadSignature("missing msg_signature")
        parse_fields(body)  # refuse non-XML before wechatpy's own, unguarded parse
        last_error: Exception | None = None
        for crypto in self._cryptos:
            try:
                return crypto.decrypt_message(body, msg_signature, timestamp, nonce)
            except InvalidSignatureException:
                raise BadSignature("msg_signature") from None
            except Exception as exc:  # wrong key, bad padding, wrong appid: try the next key
                last_error = exc
        raise BadPayload(f"cannot decrypt: {type(last_error).__name__}")

    def encrypt(self, xml: str, nonce: str, timestamp: str) -> str:
        return self._cryptos[0].encrypt_message(xml, nonce, timestamp)
