"""`flask notify ...` (CONTRACT §1): a class's notices sent, shown and their failed texts retried."""
from __future__ import annotations

import click

from services.notices import notices
from wxapp.cli._common import actor, by_option, group

notify_cli = group("notify", help="通知 (notices to trainees by WeChat template message or SMS).")

CHANNEL_LABELS = notices.CHANNEL_LABELS
STATE_LABELS = notices.STATE_LABELS


@notify_cli.command("class-open")
@click.argument("code")
@by_option()
def notify_class_open(code: str, by: str | None) -> None:
    """Sends the class-open notice to every trainee of the class, once (re-running sends nothing twice)."""
    from wxapp.extensions import notice_desk

    tools = notice_desk()
    before = _class_open_before(code)
    notice = tools.class_open(code, actor(by))
    if not tools.templates["class_open"].wechat.template_id:
        click.echo("未配置微信模板 WECHAT_TEMPLATE_CLASS_OPEN：全部以短信发送。")
    click.echo(_class_open_headline(code, before, notice.recipients))
    tools.dispatcher().run(notice_id=notice.id, wait=True)
    counts = tools.counts(notice.id)
    if before is not None:
        click.echo("全部学员的发送情况：")
    _echo_counts(counts)
    if "sms" in counts and tools.sms.name == "console":
        click.echo("注：SMS_BACKEND=console，短信只记录（开发沙箱 /dev/ 可见），未真正发出。")
    if "sms" in counts and tools.sms.name == "unconfigured":
        click.echo("注：未配置短信服务（SMS_BACKEND=console），短信未发出，已记为失败。"
                   "请配置短信服务（SMS_BACKEND=aliyun 或 tencent）。")


def _class_open_before(code: str):
    """The class-open notice this class already has (None: never sent), as (when, how many)."""
    from services.timeutil import local_text
    from wxapp.extensions import db

    _, sent = notices.class_notices(db.session, code)
    found = next((n for n in sent if n.kind == "class_open"), None)
    if found is None:
        return None
    withdrawn = sum(states.get("withdrawn", 0) for states in notices.counts(db.session, found.id).values())
    return local_text(found.created_at), found.recipients, withdrawn


def _class_open_headline(code: str, before, recipients: int) -> str:
    """First run: how many it goes to. A re-run: that it was sent before, who is new, and the
    messages withdrawn when the class moved, which now go out with the new time and place."""
    if before is None:
        return f"班级 {code} 开班通知：学员 {recipients} 人，发送中…"
    when, reached, withdrawn = before
    added = recipients - reached
    head = f"班级 {code} 开班通知已于 {when} 发送过（学员 {reached} 人）"
    again = f"；因开班时间或地点变更而撤回的 {withdrawn} 条按新的时间、地点发送" if withdrawn else ""
    if added <= 0 and not withdrawn:
        return f"{head}：没有新的学员需要通知，本次不再发送。"
    return f"{head}{again}" + (f"；新加入班级的学员 {added} 人" if added > 0 else "") + "，发送中…"


def _echo_counts(counts: dict, indent: str = "") -> None:
    """One line per channel, WeChat first: `微信模板消息：已发送 2，失败 1`."""
    for channel, states in sorted(counts.items(), key=lambda item: item[0] != "wechat"):
        parts = [f"{label} {states[state]}" for state, label in STATE_LABELS.items() if states.get(state)]
        click.echo(f"{indent}{CHANNEL_LABELS[channel]}：{'，'.join(parts)}")


NOTICE_LABELS = notices.KIND_LABELS


@notify_cli.command("status")
@click.argument("code")
def notify_status(code: str) -> None:
    """Shows the notices sent to a class: counts per channel and state, and every message not delivered."""
    from services.identity.pii import mask_phone
    from services.timeutil import local_text
    from wxapp.extensions import db

    training_class, sent = notices.class_notices(db.session, code)
    sent_text = f"通知 {len(sent)} 条" if sent else "尚未发送通知"
    click.echo(f"班级 {training_class.code}（{training_class.name}）：{sent_text}")
    for notice in sent:
        click.echo(f"{NOTICE_LABELS.get(notice.kind, notice.kind)}（{local_text(notice.created_at)}，"
                   f"{notice.requested_by}）：学员 {notice.recipients} 人")
        _echo_counts(notices.counts(db.session, notice.id), indent="  ")
        for u in notices.undelivered(db.session, notice.id):
            error = f"：{u.last_error[:80]}" if u.last_error else ""
            resend = f"（核实未收到后可重发：notify resend {u.outbox_id} --by 姓名）" if u.state == "unknown" else ""
            click.echo(f"  · {u.trainee_name}（{mask_phone(u.phone)}）{CHANNEL_LABELS[u.channel]} "
                       f"{STATE_LABELS[u.state]}，已尝试 {u.attempts} 次{error}{resend}")


@notify_cli.command("retry")
@click.argument("code")
@by_option()
def notify_retry(code: str, by: str | None) -> None:
    """Sends again the failed texts of a class's notices to trainees they have not reached
    (e.g. once an SMS provider is configured). Messages of unknown fate are not resent."""
    from wxapp.extensions import notice_desk

    training_class, results = notice_desk().retry_texts(code, actor(by))
    for result in results:
        label = NOTICE_LABELS.get(result.notice.kind, result.notice.kind)
        if result.requeued:
            click.echo(f"{label}：重发短信 {result.requeued} 条，发送中…")
            _echo_counts(result.counts, indent="  ")
        else:
            click.echo(f"{label}：没有需要重发的短信")
        if result.unknown:
            click.echo(f"  状态未知的短信 {result.unknown} 条未重发：可能已送达，请用 notify status 查看并人工核实。")
    if not results:
        click.echo(f"班级 {training_class.code} 尚未发送通知")


@notify_cli.command("resend")
@click.argument("outbox_id", type=int)
@by_option()
def notify_resend(outbox_id: int, by: str | None) -> None:
    """Sends again one message of unknown fate (状态未知), after staff checked it did not arrive;
    recorded in the audit log. Its id is in `notify status` and the console's delivery table."""
    from services.notices import unknown
    from services.timeutil import utcnow
    from wxapp.extensions import db, notice_desk

    queued = unknown.resend(db.session, outbox_id, actor(by), utcnow())  # a refusal: one line, exit 1
    click.echo(f"已重发：{queued.trainee_name} 的{CHANNEL_LABELS[queued.channel]}（记录 {outbox_id}），发送中…")
    notice_desk().dispatcher().run(notice_id=queued.notice_id, wait=True, max_seconds=60)
    click.echo(f"发送结果：{STATE_LABELS.get(unknown.state_of(db.session, outbox_id) or '', '')}")
