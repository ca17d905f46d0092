"""The account's custom menu: load the definition file, check it against WeChat's limits, push it.

WeChat allows at most 3 top-level buttons of at most 16 bytes each, and at most 5 sub-buttons of
at most 60 bytes each; its own error for a bad menu is a bare errcode, so we check first and say
in Chinese what is wrong. Every CLICK key of CONTRACT §3 must be in the menu.
"""
from __future__ import annotations

import json
from pathlib import Path

from services import JsonObject, ServiceError
from services.wechat_api import WeChatApi

# The CLICK keys of menu.json (CONTRACT §3); handlers/menu.py answers each.
ONLINE_LEARNING, MY_COURSES, MY_CLASS, MY_EXAM, HELP = "ONLINE_LEARNING", "MY_COURSES", "MY_CLASS", "MY_EXAM", "HELP"
MY_CERTIFICATES = "MY_CERTIFICATES"
REQUIRED_KEYS = (ONLINE_LEARNING, MY_COURSES, MY_CLASS, MY_EXAM, MY_CERTIFICATES, HELP)
MAX_TOP, MAX_SUB = 3, 5
TOP_NAME_BYTES, SUB_NAME_BYTES, KEY_BYTES, URL_BYTES = 16, 60, 128, 1024
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "menu.json"


class MenuError(ServiceError):
    """The menu definition is unreadable or breaks one of WeChat's rules."""


def load_menu(path: Path = DEFAULT_PATH) -> JsonObject:
    try:
        menu = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MenuError(f"菜单文件 {path} 无法读取：{exc}") from None
    validate_menu(menu)
    checked: JsonObject = menu
    return checked


def validate_menu(menu: object) -> None:
    buttons = menu.get("button") if isinstance(menu, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_TOP:
        raise MenuError(f"一级菜单须为 1 至 {MAX_TOP} 个")
    click_keys: list[str] = []
    for button in buttons:
        _check_name(button, TOP_NAME_BYTES, "一级菜单")
        subs = button.get("sub_button")
        if subs is None:
            click_keys += _check_action(button)
            continue
        if not isinstance(subs, list) or not 1 <= len(subs) <= MAX_SUB:
            raise MenuError(f"一级菜单「{button['name']}」的子菜单须为 1 至 {MAX_SUB} 个")
        for sub in subs:
            _check_name(sub, SUB_NAME_BYTES, "子菜单")
            click_keys += _check_action(sub)
    duplicates = sorted({k for k in click_keys if click_keys.count(k) > 1})
    if duplicates:
        raise MenuError(f"菜单 key 重复：{', '.join(duplicates)}")
    missing = [k for k in REQUIRED_KEYS if k not in click_keys]
    if missing:
        raise MenuError(f"菜单缺少 key：{', '.join(missing)}")


def push_menu(api: WeChatApi, path: Path = DEFAULT_PATH) -> JsonObject:
    """Creates the account's menu from the file (replacing the current one); returns what was sent."""
    menu = load_menu(path)
    api.create_menu(menu)
    return menu


def _check_name(button: object, max_bytes: int, label: str) -> None:
    name = button.get("name") if isinstance(button, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise MenuError(f"{label}缺少名称")
    if len(name.encode("utf-8")) > max_bytes:
        raise MenuError(f"{label}「{name}」超过 {max_bytes} 字节")


def _check_action(button: JsonObject) -> list[str]:
    """The CLICK key a leaf button carries ([] for a link button)."""
    kind = button.get("type")
    if kind == "click":
        key = button.get("key")
        if not isinstance(key, str) or not 1 <= len(key.encode("utf-8")) <= KEY_BYTES:
            raise MenuError(f"菜单「{button['name']}」的 key 须为 1 至 {KEY_BYTES} 字节")
        return [key]
    if kind == "view":
        url = button.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url.encode()) > URL_BYTES:
            raise MenuError(f"菜单「{button['name']}」的链接无效")
        return []
    raise MenuError(f"菜单「{button['name']}」的类型须为 click 或 view")
