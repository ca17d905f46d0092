"""Signature checks, hostile-XML screening, and AES decryption/encryption of callbacks."""
from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError, fromstring

from wechatpy.crypto import WeChatCrypto
from wechatpy.events import EVENT_TYPES
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.messages import MESSAGE_TYPES, UnknownMessage
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


# WeChat's deepest callback is <xml><SendPicsInfo><PicList><item><PicMd5Sum>: five levels.
MAX_DEPTH = 5
# The only fields whose value is elements, not text (menu scan and photo/location events).
NESTED_FIELDS = frozenset({"ScanCodeInfo", "SendPicsInfo", "PicList", "item", "SendLocationInfo"})


def parse_fields(xml: str) -> dict:
    """The fields of a screened WeChat `<xml>` document (nested elements as dicts), or BadPayload.

    expat builds the tree without recursion; it is then read with a stack, not recursion,
    refusing more than MAX_DEPTH levels and an element wherever text belongs
    (`<EventKey><k/></EventKey>`, `<Content><xi:include/>`), so that every field a handler
    reads is text or absent."""
    try:
        root = fromstring(xml)
    except (ParseError, ValueError) as exc:
        raise BadPayload(type(exc).__name__) from None
    if root.tag != "xml":
        raise BadPayload("root element is not <xml>")
    fields: dict = {}
    for child in root:
        if not len(child):
            fields[child.tag] = child.text
        elif child.tag in NESTED_FIELDS:
            fields[child.tag] = _nested(child)
        else:
            raise BadPayload(f"<{child.tag[:40]}> holds an element where text belongs")
    return fields


def _nested(element: Element) -> dict:
    """A nested field's elements as dicts, read with an explicit stack; depth counts from <xml>."""
    top: dict = {}
    stack = [(element, top, 2)]
    while stack:
        parent, into, depth = stack.pop()
        if depth >= MAX_DEPTH and len(parent):
            raise BadPayload(f"nested deeper than {MAX_DEPTH} levels")
        for child in parent:
            if len(child):
                into[child.tag] = {}
                stack.append((child, into[child.tag], depth + 1))
            else:
                into[child.tag] = child.text
    return top


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
