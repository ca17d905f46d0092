"""Signature checks, hostile-XML screening, and AES decryption/encryption of callbacks."""
from __future__ import annotations

import re

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import EVENT_TYPES
from wechatpy.messages import MESSAGE_TYPES, UnknownMessage
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

# A WeChat callback never declares a DTD or entities: refuse them before any parser runs.
_HOSTILE = re.compile(rb"<!(DOCTYPE|ENTITY)|<\?xml-stylesheet", re.IGNORECASE)


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


def screen(body: bytes, limit: int) -> bytes:
    """Refuses an oversized body or one with a DTD, entity or stylesheet declaration."""
    if len(body) > limit:
        raise BadPayload("body too large")
    if _HOSTILE.search(body):
        raise BadPayload("DTD or entity declaration")
    return body


def parse_fields(xml: bytes | str) -> dict:
    """The flat fields of a WeChat `<xml>` document, or BadPayload."""
    try:
        doc = xmltodict.parse(xml, disable_entities=True)
    except Exception as exc:  # expat errors, ValueError on entities, encoding errors
        raise BadPayload(type(exc).__name__) from None
    fields = doc.get("xml") if isinstance(doc, dict) else None
    if not isinstance(fields, dict):
        raise BadPayload("root element is not <xml>")
    return fields


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

    def decrypt(self, body: bytes, msg_signature: str, timestamp: str, nonce: str) -> str:
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
