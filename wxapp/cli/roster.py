"""`flask roster import` (CONTRACT §1, §6): an enterprise enrollment roster, recorded."""
from __future__ import annotations

from pathlib import Path

import click

from wxapp.cli._common import actor, by_option, echo_import_report, group

roster_cli = group("roster", help="报名汇总表 (enrollment rosters).")


@roster_cli.command("import")
@click.argument("path", metavar="FILE.xlsx")
@by_option()
def roster_import(path: str, by: str | None) -> None:
    """Imports an enterprise enrollment roster (报名汇总表)."""
    from services.school.imports import import_roster
    from wxapp.extensions import db, pii

    echo_import_report(import_roster(db.session, pii(), path, actor=actor(by), filename=Path(path).name))
