"""Flask CLI commands (CONTRACT §1): one module per command group, each command a thin call into services/."""
from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from wxapp.cli import exam, export, notify, trainee

    for group in (*trainee.GROUPS, exam.exam_cli, notify.notify_cli, export.export_cli):
        app.cli.add_command(group)
