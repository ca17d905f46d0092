"""The custom menu: the definition file, WeChat's limits, and `flask menu push`."""
from __future__ import annotations

import copy
import json

import pytest

from services import menu

MENU_PATH = "cgi-bin/menu/create"


def repo_menu() -> dict:
    return json.loads(menu.DEFAULT_PATH.read_text(encoding="utf-8"))


def test_repo_menu_file_holds_every_click_key_within_wechat_limits():
    loaded = menu.load_menu()

    assert len(loaded["button"]) <= 3
    assert [b["name"] for b in loaded["button"]] == ["在线学习", "我的学习", "帮助"]


def _with(change) -> dict:
    data = copy.deepcopy(repo_menu())
    change(data)
    return data


@pytest.mark.parametrize("broken,words", [
    (_with(lambda m: m["button"].append({"type": "click", "name": "更多", "key": "MORE"})), "一级菜单须为 1 至 3 个"),
    (_with(lambda m: m["button"][1]["sub_button"].pop(0)), "缺少 key：MY_COURSES"),
    (_with(lambda m: m["button"][2].update(key="ONLINE_LEARNING")), "key 重复：ONLINE_LEARNING"),
    (_with(lambda m: m["button"][0].update(name="在线学习在线学")), "超过 16 字节"),
    (_with(lambda m: m["button"][1]["sub_button"].extend(
        {"type": "view", "name": f"链接{i}", "url": "https://x.test/"} for i in range(3))), "子菜单须为 1 至 5 个"),
    (_with(lambda m: m["button"][2].update(type="scancode_push")), "类型须为 click 或 view"),
])
def test_menu_breaking_a_rule_is_refused_with_a_reason(broken, words):
    with pytest.raises(menu.MenuError) as caught:
        menu.validate_menu(broken)

    assert words in caught.value.message


def test_unreadable_menu_file_is_refused(tmp_path):
    bad = tmp_path / "menu.json"
    bad.write_text("{not json", encoding="utf-8")

    with pytest.raises(menu.MenuError):
        menu.load_menu(bad)


def test_menu_push_sends_the_file_menu(make_app, fake_wechat):
    app = make_app(WECHAT_API_BASE=fake_wechat.base_url)

    result = app.test_cli_runner().invoke(args=["menu", "push"])

    assert result.exit_code == 0, result.output
    assert "菜单已推送到微信" in result.output
    [posted] = fake_wechat.calls(MENU_PATH)
    assert posted.json == repo_menu()
    assert len(fake_wechat.calls("cgi-bin/stable_token")) == 1
    assert posted.query["access_token"] == app.extensions["wechat_api"].access_token()


def test_menu_push_refused_by_wechat_prints_one_line_and_exits_1(make_app, fake_wechat):
    fake_wechat.script(MENU_PATH, {"errcode": 40018, "errmsg": "invalid button name size"})
    app = make_app(WECHAT_API_BASE=fake_wechat.base_url)

    result = app.test_cli_runner().invoke(args=["menu", "push"])

    assert result.exit_code == 1
    assert result.output.strip() == "微信拒绝了菜单：errcode=40018 invalid button name size"


def test_menu_push_with_no_sandbox_running_says_to_start_make_run(make_app):
    app = make_app(WECHAT_API_BASE="http://127.0.0.1:9/dev/api/")

    result = app.test_cli_runner().invoke(args=["menu", "push"])

    assert result.exit_code == 1
    assert "请先在另一个终端运行 make run" in result.output
    assert len(result.output.strip().splitlines()) == 1
