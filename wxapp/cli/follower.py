"""`flask follower sync` (CONTRACT §1): who follows the account, from WeChat's follower list."""
from __future__ import annotations

import click

from wxapp.cli._common import fail, group

follower_cli = group("follower", help="关注者 (who follows the account).")


@follower_cli.command("sync")
def follower_sync() -> None:
    """Records who follows the account, from WeChat's follower list (user/get, user/info/batchget)."""
    from models import db
    from services.identity import followers
    from services.timeutil import utcnow
    from services.wechat_api import WeChatApiError
    from wxapp.extensions import wechat_api

    try:
        report = followers.sync(db.session, wechat_api(), utcnow())
    except WeChatApiError as exc:
        fail(f"无法读取微信关注者列表：errcode={exc.errcode} {exc.errmsg}")
    click.echo(f"关注者 {report.listed} 人（{report.pages} 页）；已知微信用户中逐个核实 {report.checked} 人；"
               f"记为关注 {report.following} 人，记为未关注 {report.not_following} 人。")
