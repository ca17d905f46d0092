"""`flask trainee …` (CONTRACT §1): a trainee's binding (unbind, unlock, recorded), records and hours."""
from __future__ import annotations

import click

from services.study.learning import hours_text
from wxapp.cli._common import actor, by_option, group, lookup_trainee, trainee_label

trainee_cli = group("trainee", help="学员 (trainees): binding and records.")


@trainee_cli.command("unbind")
@click.argument("phone_or_id")
@by_option(required=True)
@click.option("--reason", required=True, help="解绑原因，如：学员更换手机")
def trainee_unbind(phone_or_id: str, by: str, reason: str) -> None:
    """Releases a trainee's WeChat binding so that they can bind again (recorded)."""
    from services.identity import binding
    from wxapp.extensions import db, page_closer

    done = binding.unbind(db.session, lookup_trainee(phone_or_id).id, actor(by), reason, page_closer())
    stopped = "，原微信中打开的播放页面已停止" if done.page_stopped else ""
    click.echo(f"已解绑：{trainee_label(done.trainee)}{stopped}，学员可重新认证登录。")


@trainee_cli.command("show")
@click.argument("phone_or_id")
def trainee_show(phone_or_id: str) -> None:
    """Prints a trainee's courses and study records (watching, attendance checks, exercises)."""
    from services.identity.binding import REFUSAL_LABELS
    from services.identity.pii import short_openid
    from services.study import segments, study_records
    from services.timeutil import local_text
    from wxapp.extensions import db

    trainee = lookup_trainee(phone_or_id)
    report = study_records.trainee_report(db.session, trainee)
    click.echo(f"学员：{trainee_label(trainee)}，{trainee.company}")
    click.echo(f"微信：{'已绑定（' + short_openid(report.openid) + '）' if report.openid else '未绑定'}")
    for entry in report.bindings:
        wechat = f"微信 {short_openid(entry.openid)}"
        how = f"，{entry.note}" if entry.note else ""  # 自助更换: the trainee moved it themselves
        what = {"bound": f"认证绑定（{wechat}{how}）", "unbound": f"解绑（{wechat}，{entry.actor}：{entry.note}）"}.get(
            entry.action, f"认证被拒（{wechat}，{REFUSAL_LABELS.get(entry.reason, entry.reason)}）")
        click.echo(f"  {local_text(entry.at)} {what}")
    for line in report.courses:
        label = "公共课" if line.kind == "public" else f"专业课·{line.major}"
        click.echo(f"{label}：已修 {hours_text(line.hours_earned)} / {hours_text(line.hours_required)} 学时")
    click.echo("视频课时记录：" + ("" if report.lessons else "无"))
    for r in report.lessons:
        state = f"已获得学时（{local_text(r.completed_at)}）" if r.completed_at else "未获得学时"
        length = f"{r.duration_s // 60}分{r.duration_s % 60}秒"
        click.echo(f"[{r.course}] {r.title}（{length}，{hours_text(r.hours)}学时）：{state}")
        click.echo(f"  已看部分：{segments.describe(r.watched)}；计入时长 {int(r.credited_seconds)} 秒")
        c = r.checks
        click.echo(f"  考勤验证：发起 {c['issued']}，通过 {c['verified']}，超时 {c['expired']}，"
                   f"待验证 {c['pending']}，他人扫码被拒 {c['refused']}")
        click.echo(f"  课后练习：交卷 {r.attempts} 次，全部答对 {r.attempts_passed} 次")


@trainee_cli.command("unlock")
@click.argument("phone_or_id")
@by_option()
def trainee_unlock(phone_or_id: str, by: str | None) -> None:
    """Lifts the binding locks of every WeChat that tried to bind this trainee (too many wrong tries)."""
    from services.identity import binding
    from wxapp.extensions import db, redis_client

    done = binding.unlock_trainee(db.session, redis_client(), lookup_trainee(phone_or_id).id, actor(by))
    who = trainee_label(done.trainee)
    if not done.wechats:
        click.echo(f"{who}：没有微信尝试过认证此学员，无需解除锁定。")
        return
    click.echo(f"{who}：尝试过认证的微信 {done.wechats} 个，已解除锁定 {done.lifted} 项，学员可立即重新认证登录。")


@trainee_cli.command("recount-hours")
def trainee_recount_hours() -> None:
    """Recounts every trainee's hours summary from their lesson progress (after SQL run by hand on
    lesson_progress or lessons; the app keeps the summary itself)."""
    from models import db
    from services.db import transaction
    from services.study import hours

    with transaction(db.session):
        counted = hours.rebuild(db.session.connection())
    click.echo(f"已按学习记录重新统计 {counted} 名学员的学时汇总。")
