"""`flask menu push` (CONTRACT §1): the account's custom menu from the definition file."""
from __future__ import annotations

from pathlib import Path

import click

from wxapp.cli._common import fail, group

menu_cli = group("menu", help="公众号自定义菜单 (the account's custom menu).")


@menu_cli.command("push")
@click.option("--file", "path", type=click.Path(dir_okay=False), help="菜单定义文件，默认为仓库根目录的 menu.json。")
def menu_push(path: str | None) -> None:
    """Creates the account's custom menu from the menu definition file."""
    from services import menu
    from services.wechat_api import WeChatApiError, WeChatUnavailable
    from wxapp import config
    from wxapp.config import SANDBOX_API_PATH
    from wxapp.extensions import wechat_api

    base = config.current().wechat_api_base
    try:
        sent = menu.push_menu(wechat_api(), Path(path) if path else menu.DEFAULT_PATH)
    except menu.MenuError as exc:
        fail(f"菜单定义有误：{exc.message}")
    except WeChatUnavailable as exc:
        if SANDBOX_API_PATH in base:
            fail(f"本地沙箱 {base} 无应答：请先在另一个终端运行 make run，再推送菜单")
        fail(f"无法连接微信接口 {base}：{exc.errmsg}")
    except WeChatApiError as exc:
        fail(f"微信拒绝了菜单：errcode={exc.errcode} {exc.errmsg}")
    where = "本地沙箱" if SANDBOX_API_PATH in base else "微信"
    click.echo(f"菜单已推送到{where}：{len(sent['button'])} 个一级菜单。")
