"""Flask CLI commands (CONTRACT §1); each one a thin call into services/."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

roster_cli = AppGroup("roster", help="报名汇总表 (enrollment rosters).")
catalog_cli = AppGroup("catalog", help="课程与视频课时 (courses and lessons).")
class_cli = AppGroup("class", help="班级 (classes).")
menu_cli = AppGroup("menu", help="公众号自定义菜单 (the account's custom menu).")
demo_cli = AppGroup("demo", help="Development demo data.")


def register(app: Flask) -> None:
    for group in (roster_cli, catalog_cli, class_cli, menu_cli, demo_cli):
        app.cli.add_command(group)


def fail(message: str, code: int = 1):
    """Print one line to stderr and exit with `code`."""
    click.echo(message, err=True)
    raise SystemExit(code)
