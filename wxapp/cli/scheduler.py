"""`flask scheduler run` (CONTRACT §1): the scheduler process in the foreground."""
from __future__ import annotations

import click

from wxapp.cli._common import group

scheduler_cli = group("scheduler", help="定时任务进程 (the scheduler process).")


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Runs the scheduler (scheduled pushes, outbox dispatch) in the foreground; one process leads."""
    from flask import current_app

    import scheduler

    stop = scheduler.stop_on_signals()  # first: from the line below on, a SIGTERM stops it cleanly
    click.echo("定时任务进程已启动（Ctrl-C 退出）；另一进程在运行时本进程待命。")
    scheduler.run(current_app._get_current_object(), stop)  # type: ignore[attr-defined]
