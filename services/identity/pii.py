"""Personal data: ID card and phone normalisation, validation, masking, encryption at rest.

ID cards follow GB 11643-1999 (18 characters, ISO 7064 MOD 11-2 check digit). Both keys of
`PiiCipher` are derived from the one PII_KEY setting with HKDF, so rotating PII_KEY means
re-encrypting, and the lookup hash can't be recomputed without the secret.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from datetime import date

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services import ServiceError

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
# Full-width digits, letters and space to their ASCII forms (Excel users paste them).
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


class InvalidIdCard(ServiceError):
    pass


class InvalidPhone(ServiceError):
    pass


def _half_width(text: str) -> str:
    return text.translate(_FULLWIDTH)


def normalize_id_card(raw: object) -> str:
    """The canonical form of a typed ID card: half-width, no spaces, upper-case X."""
    if raw is None:
        return ""
    return re.sub(r"\s+", "", _half_width(str(raw))).upper()


def id_card_check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=False))
    return _ID_CHECK[total % 11]


def validate_id_card(raw: object) -> str:
    """Returns the canonical ID card number or raises InvalidIdCard with the reason."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raise InvalidIdCard("身份证号被存成了数字，末几位已丢失；请把该列设置为“文本”格式后重新填写")
    value = normalize_id_card(raw)
    if not value:
        raise InvalidIdCard("身份证号为空")
    if len(value) != 18:
        raise InvalidIdCard(f"身份证号应为18位，实际为{len(value)}位")
    if not _ID_RE.match(value):
        raise InvalidIdCard("身份证号含有无效字符（前17位应为数字，末位为数字或X）")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdCard("身份证号中的出生日期不存在") from None
    if not date(1900, 1, 1) <= born <= date.today():
        raise InvalidIdCard("身份证号中的出生日期不合理")
    if id_card_check_digit(value[:17]) != value[17]:
        raise InvalidIdCard("身份证号校验位错误，请核对后重新填写")
    return value


def normalize_phone(raw: object) -> str:
    """Returns an 11-digit mainland mobile number or raises InvalidPhone."""
    if raw is None:
        raise InvalidPhone("手机号为空")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    value = re.sub(r"[\s\-()（）]", "", _half_width(str(raw)))
    if value.startswith("+86"):
        value = value[3:]
    elif value.startswith("86") and len(value) == 13:
        value = value[2:]
    if not value:
        raise InvalidPhone("手机号为空")
    if not _PHONE_RE.match(value):
        raise InvalidPhone("手机号应为11位大陆手机号码（以1开头）")
    return value


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳小明 → 欧***, 李 → 李*: the first character only, and at least one star (a
    one-character name shown whole would not be masked)."""
    name = name.strip()
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "*" * len(phone)


def mask_id_card(id_card: str | None) -> str:
    if not id_card:
        return ""
    return id_card[:4] + "*" * (len(id_card) - 8) + id_card[-4:] if len(id_card) > 8 else "*" * len(id_card)


def short_openid(openid: str | None) -> str:
    """A stable, non-reversible tag of an OpenID for log lines."""
    if not openid:
        return "-"
    return hashlib.sha256(openid.encode()).hexdigest()[:10]


class PiiCipher:
    """AES-256-GCM for ID cards at rest and an HMAC-SHA256 lookup hash, keys from PII_KEY."""

    def __init__(self, secret: str):
        self._aead = AESGCM(self._derive(secret, b"wxapp id-card encryption v1"))
        self._hash_key = self._derive(secret, b"wxapp id-card lookup hash v1")

    @staticmethod
    def _derive(secret: str, info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret.encode())

    def lookup_hash(self, id_card: str) -> str:
        return hmac.new(self._hash_key, id_card.encode(), hashlib.sha256).hexdigest()

    def encrypt(self, id_card: str) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, id_card.encode(), b"id_card")).decode()

    def decrypt(self, token: str) -> str:
        raw = base64.b64decode(token)
        return self._aead.decrypt(raw[:12], raw[12:], b"id_card").decode()
