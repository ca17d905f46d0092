"""Flask CLI commands (CONTRACT §1), one module per command group as redash composes its CLI;
each command a thin call into services/. Every group is made by `_common.group` (a refusal is one
line on stderr, exit 1) and registered here, in one list."""
from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from wxapp.cli import (
        catalog,
        classes,
        demo,
        exam,
        export,
        follower,
        menu,
        notify,
        roster,
        scheduler,
        staff,
        trainee,
    )

    for group in (roster.roster_cli, catalog.catalog_cli, classes.class_cli, menu.menu_cli, demo.demo_cli,
                  trainee.trainee_cli, scheduler.scheduler_cli, staff.staff_cli, follower.follower_cli,
                  exam.exam_cli, notify.notify_cli, export.export_cli):
        app.cli.add_command(group)
