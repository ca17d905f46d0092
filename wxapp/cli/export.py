"""`flask export completions` (CONTRACT §8): the provincial completions file; a thin call into
services.completion.export."""
from __future__ import annotations

from datetime import date

import click

from wxapp.cli._common import actor, by_option, fail, group

export_cli = group("export", help="导出 (exports for the provincial platform).")


def _day(option: str, raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise click.UsageError(f"{option} 应为 YYYY-MM-DD 格式的日期，例如 2027-03-01；收到 {raw!r}") from None


@export_cli.command("completions")
@click.argument("path", metavar="FILE.xlsx")
@click.option("--from", "date_from", metavar="YYYY-MM-DD", help="完成日期不早于（北京时间，含当天）")
@click.option("--to", "date_to", metavar="YYYY-MM-DD", help="完成日期不晚于（北京时间，含当天）")
@click.option("--major", metavar="专业", help="只导出这个专业，例如 建筑工程")
@by_option()
def export_completions(path: str, date_from: str | None, date_to: str | None, major: str | None,
                       by: str | None) -> None:
    """Writes the valid completions (结业名单) for the provincial platform, with FULL ID card numbers."""
    from services.completion.export import ExportFilter, ExportRefused
    from services.completion.staff import export_recorded
    from wxapp.extensions import db, pii

    if not path.lower().endswith(".xlsx"):
        raise click.UsageError(f"文件名应以 .xlsx 结尾：{path}")
    wanted = ExportFilter(_day("--from", date_from), _day("--to", date_to), major.strip() if major else None)
    try:
        result = export_recorded(db.session, pii(), path, wanted, actor(by))
    except ExportRefused as exc:
        fail(f"未导出：{exc.message}")
    except OSError as exc:
        fail(f"未导出：无法写入 {path}（{exc.strerror or exc}）")
    click.echo(f"已导出 {result.rows} 条结业记录到 {result.path}")
    click.echo("注意：此文件含有学员完整的身份证号和手机号，仅用于上报省平台；请妥善保管，用后删除，勿通过微信、邮件外传。",
               err=True)
