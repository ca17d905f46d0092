"""`flask catalog import` (CONTRACT §1, §6): courses, lessons and their exercises, recorded."""
from __future__ import annotations

from pathlib import Path

import click

from wxapp.cli._common import actor, by_option, echo_import_report, echo_rejections, group

catalog_cli = group("catalog", help="课程与视频课时 (courses and lessons).")


@catalog_cli.command("import")
@click.argument("path", metavar="FILE.xlsx")
@by_option()
def catalog_import(path: str, by: str | None) -> None:
    """Imports courses and their video lessons."""
    from services.school.imports import import_catalog
    from wxapp.extensions import db

    report = import_catalog(db.session, path, actor=actor(by), filename=Path(path).name)
    echo_import_report(report)
    if report.exercises is not None:
        ex = report.exercises
        click.echo(f"课后练习：{ex.summary()}")
        echo_rejections(ex.rejected, "课后练习")
    if report.revived:
        click.echo(report.revived_text())
    for warning in report.warnings:
        click.echo(f"注意：{warning}")
