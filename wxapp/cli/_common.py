"""What every command group shares: the one way a group is made (`group`), a refusal printed as one
line, who runs a staff action (`--by`, else the OS user), and the import reports and trainees as
the commands print them."""
from __future__ import annotations

import functools
import getpass
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import click
from flask.cli import AppGroup

from models import Trainee
from services import ServiceError
from services.identity.pii import mask_phone
from services.school.imports import ImportReport

REJECTIONS_SHOWN = 200  # a broken file of 50,000 rows must not print 50,000 lines


class Group(AppGroup):
    """A command group whose commands run in the app context and print a service's refusal
    (`ServiceError`) as one line on stderr, exit 1, instead of a traceback."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Command]:  # type: ignore[override]
        register = super().command(*args, **kwargs)

        def decorator(f: Callable[..., Any]) -> click.Command:
            @functools.wraps(f)
            def run(*a: Any, **k: Any) -> Any:
                try:
                    return f(*a, **k)
                except ServiceError as exc:
                    fail(exc.message)

            return register(run)

        return decorator


def group(name: str, help: str) -> Group:
    return Group(name, help=help)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to stderr and exit with `code`."""
    click.echo(message, err=True)
    raise SystemExit(code)


def operator() -> str:
    """Who runs the command, for the records: the login name (or '?' in a bare container)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"


def by_option(required: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--by NAME`: who does a staff action, for the audit log (default: the OS user)."""
    return click.option("--by", "by", required=required, default=None,
                        help="操作人（教务人员姓名）" + ("" if required else "，默认为当前系统用户"))


def actor(by: str | None) -> str:
    """The audit log's actor of a command: `--by`, else the OS user."""
    return (by or "").strip() or operator()


def echo_rejections(rejected: Sequence[tuple[int, str]], label: str = "") -> None:
    """The first REJECTIONS_SHOWN rejected rows, one line each, then how many more."""
    for number, reason in rejected[:REJECTIONS_SHOWN]:
        click.echo(f"{label}第{number}行：{reason}")
    if len(rejected) > REJECTIONS_SHOWN:
        click.echo(f"……另有 {len(rejected) - REJECTIONS_SHOWN} 行被拒绝，未逐行列出（请先改正以上各行再导入）")


def echo_import_report(report: ImportReport) -> None:
    click.echo(report.summary())
    echo_rejections(report.rejected)


def lookup_trainee(phone_or_id: str) -> Trainee:
    """The trainee staff name by phone or ID card number (`binding.find_trainee`); when none or
    several match, the command fails saying so."""
    from services.identity import binding
    from wxapp.extensions import db, pii

    return binding.find_trainee(db.session, pii(), phone_or_id)


def trainee_label(trainee: Trainee) -> str:
    """`周一（手机 139****0001，身份证 3205**********0017）`: a trainee as the commands print them, masked."""
    return f"{trainee.name}（手机 {mask_phone(trainee.phone)}，身份证 {trainee.id_card_mask}）"
