"""The notice templates file (`notice_templates.json`): per notice kind, the WeChat template message
(template id, field → text) and the SMS template (code, parameter → text).

Every official account's templates differ, so ids and field names live in this one file rather
than in code; `WECHAT_TEMPLATE_<KIND>` settings win over the file's template ids. The file is
checked once when loaded: an unknown placeholder is refused then, not at the first send.
"""
from __future__ import annotations

import json
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from models.notices import NOTICE_KINDS
from services import JsonObject, ServiceError

# What a text may name; each notice or outbox row provides the ones its kind knows.
VALUE_NAMES = frozenset({"trainee_name", "class_name", "class_code", "major", "starts_at", "place", "expires_on"})
VALUE_NAMES |= {"score", "result", "reason"}  # the exam's result and void notices
VALUE_NAMES |= {"code", "moved_at"}  # 更换绑定的微信: the SMS code, when the account moved
THING_MAX = 20  # WeChat refuses a `thing` field longer than 20 characters


class TemplateError(ServiceError):
    """The templates file is missing or wrong; the message says where."""


@dataclass(frozen=True)
class WechatTemplate:
    template_id: str | None
    fields: dict[str, str]

    def render(self, values: Mapping[str, str]) -> dict[str, dict[str, str]]:
        data = {}
        for name, text in self.fields.items():
            value = text.format_map(values)
            data[name] = {"value": value[:THING_MAX] if name.startswith("thing") else value}
        return data


@dataclass(frozen=True)
class SmsTemplate:
    template_code: str
    params: dict[str, str]
    # The template's wording as registered with the provider, its parameters by name ({code}):
    # what the phone shows, for the development sandbox's phone; None when the file gives none.
    text: str | None = None

    def render(self, values: Mapping[str, str]) -> dict[str, str]:
        """Parameters in the file's order (Tencent Cloud's templates are positional)."""
        return {name: text.format_map(values) for name, text in self.params.items()}

    def full_text(self, sign_name: str, params: Mapping[str, str]) -> str:
        """The text as the phone shows it: 【signature】 and the wording with these parameters
        (the bare parameters when the file gives no wording)."""
        body = self.text.format_map(_Blank(params)) if self.text else "，".join(str(v) for v in params.values())
        return f"【{sign_name}】{body}" if sign_name else body


class _Blank(dict[str, str]):
    """Parameters for `format_map`: one a message lacks shows as nothing rather than failing."""

    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class KindTemplates:
    wechat: WechatTemplate
    sms: SmsTemplate


def load(path: str | Path, template_ids: Mapping[str, str | None] | None = None) -> dict[str, KindTemplates]:
    """Reads and checks the file; `template_ids` (kind → id, from settings) override its ids."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TemplateError(f"通知模板文件 {path} 无法读取：{exc}") from None
    kinds = {}
    for kind in NOTICE_KINDS:
        entry = raw.get(kind)
        if not isinstance(entry, dict):
            raise TemplateError(f"通知模板文件 {path} 缺少 {kind}")
        kinds[kind] = _kind(path, kind, entry, (template_ids or {}).get(kind))
    return kinds


def _kind(path: str | Path, kind: str, entry: JsonObject, template_id: str | None) -> KindTemplates:
    wechat, sms = entry.get("wechat") or {}, entry.get("sms") or {}
    fields, params = wechat.get("fields") or {}, sms.get("params") or {}
    if not sms.get("template_code") or not params:
        raise TemplateError(f"通知模板文件 {path}：{kind}.sms 需要 template_code 和 params")
    for where, texts in ((f"{kind}.wechat.fields", fields), (f"{kind}.sms.params", params)):
        for name, text in texts.items():
            unknown = _placeholders(text) - VALUE_NAMES
            if unknown:
                names = ", ".join(sorted(unknown))
                raise TemplateError(f"通知模板文件 {path}：{where}.{name} 用了未知的占位符 {names}")
    text = sms.get("text") or None
    if text is not None and not _placeholders(text) <= set(params):
        names = ", ".join(sorted(_placeholders(text) - set(params)))
        raise TemplateError(f"通知模板文件 {path}：{kind}.sms.text 用了 params 里没有的参数 {names}")
    return KindTemplates(
        wechat=WechatTemplate(template_id=template_id or wechat.get("template_id") or None, fields=dict(fields)),
        sms=SmsTemplate(template_code=str(sms["template_code"]), params=dict(params),
                        text=str(text) if text is not None else None),
    )


def _placeholders(text: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(str(text)) if name is not None}
    except ValueError:
        return {str(text)}
