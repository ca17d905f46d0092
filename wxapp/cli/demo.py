"""`flask demo load`: the development demo data."""
from __future__ import annotations

import click

from wxapp.cli._common import group

demo_cli = group("demo", help="Development demo data.")


@demo_cli.command("load")
def demo_load() -> None:
    """Loads the development demo data (only what is missing)."""
    from services.demo import load_demo
    from wxapp.extensions import db, pii

    added = load_demo(db.session, pii())
    click.echo(f"演示数据已加载：新增 {added} 条记录" if added else "演示数据已存在，未做修改")
