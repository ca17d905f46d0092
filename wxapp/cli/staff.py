"""`flask staff create` (CONTRACT §1, §9): a staff account for the console, recorded."""
from __future__ import annotations

import click

from wxapp.cli._common import actor, by_option, fail, group

staff_cli = group("staff", help="教务账号 (staff accounts).")


@staff_cli.command("create")
@click.argument("username")
@click.option("--password", help="密码；不给则提示输入（不回显，不留在命令历史里）")
@click.option("--role", type=click.Choice(["admin", "staff"]), default="staff", show_default=True,
              help="admin 还可查看操作记录、查看完整身份证号")
@by_option()
def staff_create(username: str, password: str | None, role: str, by: str | None) -> None:
    """Creates a staff account (教务账号) for the staff console."""
    from services.identity import staff
    from wxapp.extensions import db

    staff.check_username(db.session, username)  # before asking for a password
    if password is None:
        password = click.prompt("密码", hide_input=True)
        if click.prompt("再次输入密码", hide_input=True) != password:
            fail("两次输入的密码不一致，未创建账号")
    user = staff.create(db.session, username, password, actor(by), role)
    click.echo(f"已创建{'管理员' if role == 'admin' else '教务'}账号：{user.username}")
