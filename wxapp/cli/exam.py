"""`flask exam …`: staff's exam commands (CONTRACT §1, §7), each a thin call into services.exam."""
from __future__ import annotations

import click

from wxapp import config
from wxapp.cli._common import actor, by_option, echo_import_report, fail, group, lookup_trainee, trainee_label

exam_cli = group("exam", help="考试 (the online exam): question bank and attempts.")


@exam_cli.command("import")
@click.argument("path", metavar="FILE.xlsx")
@by_option()
def exam_import(path: str, by: str | None) -> None:
    """Imports exam questions (题库); idempotent."""
    from services.exam.bank import import_bank
    from wxapp.extensions import db

    report = import_bank(db.session, path, config.current().exam_rules, actor=actor(by))
    echo_import_report(report)
    for line in report.short:
        click.echo(f"注意：题库不足，{line}，该专业的考试无法开始")


@exam_cli.command("void")
@click.argument("attempt_id", type=int)
@by_option(required=True)
@click.option("--reason", required=True, help="取消原因，如：考前照片与本人不符")
def exam_void(attempt_id: int, by: str, reason: str) -> None:
    """Cancels a passed result (取消测试成绩): the exam opens again and the trainee is told why."""
    from services.exam import staff
    from services.timeutil import utcnow
    from wxapp.extensions import exam_tools, notice_desk

    attempt, notice = staff.void(exam_tools(), attempt_id, actor(by), reason, utcnow())
    click.echo(f"已取消考试记录 {attempt.id} 的合格成绩（{attempt.trainee.name}，{attempt.major.name}），"
               "该专业考试已重新开放，结业记录已作废，正在通知学员…")
    notice_desk().dispatcher().run(notice_id=notice.id, wait=True, max_seconds=30)


@exam_cli.command("release")
@click.argument("attempt_id", type=int)
@by_option()
def exam_release(attempt_id: int, by: str | None) -> None:
    """Frees an open attempt from the browser that started it (the trainee changed phone)."""
    from services.exam import staff
    from wxapp.extensions import exam_tools

    attempt = staff.release(exam_tools(), attempt_id, actor(by))
    click.echo(f"已释放考试记录 {attempt.id}：学员下次打开考试页面（任何设备）即可继续作答。")


@exam_cli.command("show")
@click.argument("phone_or_id")
def exam_show(phone_or_id: str) -> None:
    """Lists a trainee's exams and every attempt, newest first."""
    from services.exam import staff
    from services.exam.state import exams_for
    from services.timeutil import local_text
    from wxapp.extensions import db, exam_tools

    trainee = lookup_trainee(phone_or_id)
    click.echo(f"学员：{trainee_label(trainee)}")
    for line in exams_for(db.session, trainee.id):
        best = "" if line.best_score is None else f"，最高 {line.best_score} 分"
        missing = f"（{'，'.join(line.missing)}）" if line.missing else ""
        click.echo(f"{line.major}：{STATE_LABELS[line.state]}{missing}，考试 {line.attempts} 次{best}")
    found = staff.attempts_of(exam_tools(), trainee.id)
    click.echo("考试记录：" + ("" if found else "无"))
    for a in found:
        click.echo(f"  #{a.id} {a.major.name} 开始 {local_text(a.started_at)}：{_outcome(a)}；"
                   f"照片 考前{'有' if a.photo_before else '无'} 交卷{'有' if a.photo_after else '无'}")


STATE_LABELS = {"locked": "未开放", "open": "可参加考试", "in_progress": "考试进行中", "passed": "已合格"}


def _outcome(a) -> str:
    from services.timeutil import local_text

    if a.submitted_at is None:
        return f"作答中（截止 {local_text(a.deadline)}{'，未绑定页面' if a.session_hash is None else ''}）"
    how = "到时自动交卷" if a.submitted_by == "deadline" else "交卷"
    text = f"{how} {local_text(a.submitted_at)}，{a.score} 分，{'合格' if a.passed else '不合格'}"
    if a.voided_at is not None:
        text += f"，成绩已取消（{a.voided_by}：{a.void_reason}）"
    return text


# -- face comparison (人脸比对) -----------------------------------------------------------------

@exam_cli.group("faces")
def faces_cli() -> None:
    """人脸比对: face comparison of exam photos (CONTRACT §7)."""


@faces_cli.command("backfill")
def faces_backfill() -> None:
    """Analyses every exam photo not analysed yet (those uploaded before face comparison was installed)."""
    from services.exam.faces import analysis
    from services.timeutil import utcnow
    from wxapp.extensions import face_gate, face_tools

    gate = face_gate()
    if not gate.enabled:
        fail(gate.settings.status_text + "：没有分析任何照片")
    report = analysis.run(face_tools(), utcnow())
    click.echo(f"已分析照片 {report.analysed} 张" + (f"，暂时无法读取 {report.skipped} 张（稍后再运行）"
                                                    if report.skipped else "")
               + f"；已比对考试 {report.assessed} 次，新进入待复核名单 {len(report.flagged)} 次（/admin/exams/review）")


@faces_cli.command("show")
@click.argument("attempt_id", type=int)
def faces_show(attempt_id: int) -> None:
    """Prints an attempt's face signals with their distances (phone and ID card masked)."""
    from services.exam import ExamError
    from services.exam.faces.review import attempt_faces
    from services.timeutil import local_text
    from wxapp.extensions import db, face_gate

    settings = face_gate().settings
    try:
        found = attempt_faces(db.session, attempt_id)
    except ExamError as exc:
        fail(exc.message)
    a = found.attempt
    click.echo(f"考试记录 #{a.id} {a.major.name}，开始 {local_text(a.started_at)}：{_outcome(a)}")
    click.echo(f"学员：{trainee_label(a.trainee)}")
    click.echo(settings.status_text)
    states = {p.moment: p for p in found.photos}
    for moment, label, key in (("before", "考前照片", a.photo_before), ("after", "交卷照片", a.photo_after)):
        row = states.get(moment)
        text = "无" if key is None and row is None else ("待分析" if row is None else FACE_STATE_LABELS[row.state])
        click.echo(f"{label}：{text}")
    if not found.signals:
        click.echo("比对结果：" + ("未发现异常" if found.photos else "尚未比对"))
    for s in found.signals:
        distance = "" if s.distance is None else f"（距离 {s.distance:.3f}，阈值 {settings.threshold:g}）"
        click.echo(f"- {s.text}{distance}")
        for linked in _linked(s.attempts):
            click.echo(f"    考试记录 #{linked.id} {linked.major.name}：{trainee_label(linked.trainee)}")
    review = found.review
    if a.voided_at is not None:
        click.echo(f"处理：成绩已取消（{a.voided_by}：{a.void_reason}）")
    elif review is not None and review.state == "cleared" and review.decided_at is not None:
        click.echo(f"处理：{review.decided_by} 于 {local_text(review.decided_at)} 确认无误")
    elif review is not None and review.risk > 0:
        click.echo(f"处理：待复核（风险 {review.risk:.2f}）")


FACE_STATE_LABELS = {"ok": "已分析，一张人脸", "no_face": "未检测到人脸", "many_faces": "照片中有多人",
                     "unreadable": "无法读取"}


def _linked(attempt_ids: list[int]) -> list:
    from models.exam import ExamAttempt
    from wxapp.extensions import db

    return [a for a in (db.session.get(ExamAttempt, i) for i in attempt_ids) if a is not None]
