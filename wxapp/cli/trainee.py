"""Flask CLI commands (CONTRACT §1); each one a thin call into services/."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from services.study.learning import hours_text

roster_cli = AppGroup("roster", help="报名汇总表 (enrollment rosters).")


catalog_cli = AppGroup("catalog", help="课程与视频课时 (courses and lessons).")
class_cli = AppGroup("class", help="班级 (classes).")


menu_cli = AppGroup("menu", help="公众号自定义菜单 (the account's custom menu).")
demo_cli = AppGroup("demo", help="Development demo data.")


trainee_cli = AppGroup("trainee", help="学员 (trainees): binding and records.")


scheduler_cli = AppGroup("scheduler", help="定时任务进程 (the scheduler process).")
staff_cli = AppGroup("staff", help="教务账号 (staff accounts).")


def fail(message: str, code: int = 1):
    """Print one line to stderr and exit with `code`."""
    click.echo(message, err=True)
    raise SystemExit(code)


def operator() -> str:
    """Who runs the command, for the records: the login name (or '?' in a bare container)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"


REJECTIONS_SHOWN = 200  # a broken file of 50,000 rows must not print 50,000 lines


def _echo_rejections(rejected, label: str = "") -> None:
    """The first REJECTIONS_SHOWN rejected rows, one line each, then how many more."""
    for number, reason in rejected[:REJECTIONS_SHOWN]:
        click.echo(f"{label}第{number}行：{reason}")
    if len(rejected) > REJECTIONS_SHOWN:
        click.echo(f"……另有 {len(rejected) - REJECTIONS_SHOWN} 行被拒绝，未逐行列出（请先改正以上各行再导入）")


def _echo_import_report(report) -> None:
    click.echo(f"新增 {report.created}，更新 {report.updated}，未变 {report.unchanged}，拒绝 {len(report.rejected)}")
    _echo_rejections(report.rejected)


@roster_cli.command("import")
@click.argument("path", metavar="FILE.xlsx")
def roster_import(path: str) -> None:
    """Imports an enterprise enrollment roster (报名汇总表)."""
    from services.school.imports import UnreadableFile, import_roster
    from wxapp.extensions import db, pii

    try:
        _echo_import_report(import_roster(db.session, pii(), path))
    except UnreadableFile as exc:
        fail(exc.message)


@catalog_cli.command("import")
@click.argument("path", metavar="FILE.xlsx")
def catalog_import(path: str) -> None:
    """Imports courses and their video lessons."""
    from services.school.imports import UnreadableFile, import_catalog
    from wxapp.extensions import db

    try:
        report = import_catalog(db.session, path)
    except UnreadableFile as exc:
        fail(exc.message)
    _echo_import_report(report)
    if report.exercises is not None:
        ex = report.exercises
        click.echo(f"课后练习：新增 {ex.created}，更新 {ex.updated}，未变 {ex.unchanged}，拒绝 {len(ex.rejected)}")
        _echo_rejections(ex.rejected, "课后练习")
    if report.revived:
        click.echo(report.revived_text())
    for warning in report.warnings:
        click.echo(f"注意：{warning}")


@class_cli.command("create")
@click.argument("code")
@click.option("--major", required=True, help="专业，如 建筑工程")
@click.option("--name", required=True, help="班级名称")
@click.option("--starts", required=True, help="开班时间（北京时间），YYYY-MM-DD HH:MM")
@click.option("--place", required=True, help="上课地点")
@click.option("--force", is_flag=True, help="开班时间已过也创建（补录已开过的班级）")
def class_create(code: str, major: str, name: str, starts: str, place: str, force: bool) -> None:
    """Creates a class (班级); a start in the past is refused unless --force."""
    from services import ServiceError
    from services.school.classes import StartInPast, create_class, local_start
    from wxapp.extensions import db

    try:
        training_class, created = create_class(db.session, code, major, name, starts, place, allow_past=force)
    except StartInPast as exc:
        fail(f"{exc.message}。如确需补录已开过的班级，请加 --force")
    except ServiceError as exc:
        fail(exc.message)
    state = "已创建班级 " if created else "班级已存在且内容相同，未做修改："
    click.echo(f"{state}{training_class.code}（{training_class.major.name}，{training_class.name}，"
               f"{local_start(training_class)}，{training_class.place}）")


@demo_cli.command("load")
def demo_load() -> None:
    """Loads the development demo data (only what is missing)."""
    from services.school.demo import load_demo
    from wxapp.extensions import db, pii

    added = load_demo(db.session, pii())
    click.echo(f"演示数据已加载：新增 {added} 条记录" if added else "演示数据已存在，未做修改")


@menu_cli.command("push")
@click.option("--file", "path", type=click.Path(dir_okay=False), help="菜单定义文件，默认为仓库根目录的 menu.json。")
def menu_push(path: str | None) -> None:
    """Creates the account's custom menu from the menu definition file."""
    from flask import current_app

    from services import menu
    from services.wechat_api import WeChatApiError, WeChatUnavailable
    from wxapp.config import SANDBOX_API_PATH
    from wxapp.extensions import wechat_api

    base = current_app.config["WECHAT_API_BASE"]
    try:
        sent = menu.push_menu(wechat_api(), path or menu.DEFAULT_PATH)
    except menu.MenuError as exc:
        fail(f"菜单定义有误：{exc.message}")
    except WeChatUnavailable as exc:
        if SANDBOX_API_PATH in base:
            fail(f"本地沙箱 {base} 无应答：请先在另一个终端运行 make run，再推送菜单")
        fail(f"无法连接微信接口 {base}：{exc.errmsg}")
    except WeChatApiError as exc:
        fail(f"微信拒绝了菜单：errcode={exc.errcode} {exc.errmsg}")
    where = "本地沙箱" if SANDBOX_API_PATH in base else "微信"
    click.echo(f"菜单已推送到{where}：{len(sent['button'])} 个一级菜单。")


def lookup_trainee(phone_or_id: str):
    """The trainee staff name by phone or ID card number (`binding.find_trainee`); when none or
    several match, the command fails saying so."""
    from services.identity import binding
    from wxapp.extensions import db, pii

    try:
        return binding.find_trainee(db.session, pii(), phone_or_id)
    except binding.UnbindError as exc:
        fail(exc.message)


def trainee_label(trainee) -> str:
    """`周一（手机 139****0001，身份证 3205**********0017）`: a trainee as the commands print them, masked."""
    from services.identity.pii import mask_phone

    return f"{trainee.name}（手机 {mask_phone(trainee.phone)}，身份证 {trainee.id_card_mask}）"


@trainee_cli.command("unbind")
@click.argument("phone_or_id")
@click.option("--by", "actor", required=True, help="操作人（教务人员姓名）")
@click.option("--reason", required=True, help="解绑原因，如：学员更换手机")
def trainee_unbind(phone_or_id: str, actor: str, reason: str) -> None:
    """Releases a trainee's WeChat binding so that they can bind again (recorded)."""
    from services.identity import binding
    from wxapp.extensions import db, pii, redis_client

    try:
        trainee, page_stopped = binding.unbind(db.session, redis_client(), pii(), phone_or_id, actor, reason)
    except binding.UnbindError as exc:
        fail(exc.message)
    stopped = "，原微信中打开的播放页面已停止" if page_stopped else ""
    click.echo(f"已解绑：{trainee_label(trainee)}{stopped}，学员可重新认证登录。")


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Runs the scheduler (scheduled pushes, outbox dispatch) in the foreground; one process leads."""
    from flask import current_app

    import scheduler

    stop = scheduler.stop_on_signals()  # first: from the line below on, a SIGTERM stops it cleanly
    click.echo("定时任务进程已启动（Ctrl-C 退出）；另一进程在运行时本进程待命。")
    scheduler.run(current_app._get_current_object(), stop)


REFUSAL_LABELS = {"bound_elsewhere": "该学员已绑定其他微信", "openid_bound_other": "该微信已认证为另一名学员",
                  "phone_mismatch": "手机号与身份证号报名信息不符"}


@trainee_cli.command("show")
@click.argument("phone_or_id")
def trainee_show(phone_or_id: str) -> None:
    """Prints a trainee's courses and study records (watching, attendance checks, exercises)."""
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
        what = {"bound": f"认证绑定（{wechat}）", "unbound": f"解绑（{wechat}，{entry.actor}：{entry.note}）"}.get(
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


@staff_cli.command("create")
@click.argument("username")
@click.option("--password", help="密码；不给则提示输入（不回显，不留在命令历史里）")
@click.option("--role", type=click.Choice(["admin", "staff"]), default="staff", show_default=True,
              help="admin 还可查看操作记录、查看完整身份证号")
def staff_create(username: str, password: str | None, role: str) -> None:
    """Creates a staff account (教务账号) for the staff console."""
    from services.identity import staff
    from wxapp.extensions import db

    try:
        staff.check_username(db.session, username)  # before asking for a password
        if password is None:
            password = click.prompt("密码", hide_input=True)
            if click.prompt("再次输入密码", hide_input=True) != password:
                fail("两次输入的密码不一致，未创建账号")
        user = staff.create(db.session, username, password, f"cli:{operator()}", role)
    except staff.StaffError as exc:
        fail(exc.message)
    click.echo(f"已创建{'管理员' if role == 'admin' else '教务'}账号：{user.username}")


@trainee_cli.command("unlock")
@click.argument("phone_or_id")
def trainee_unlock(phone_or_id: str) -> None:
    """Lifts the binding locks of every WeChat that tried to bind this trainee (too many wrong tries)."""
    from services.identity import binding
    from wxapp.extensions import db, pii, redis_client

    try:
        done = binding.unlock_trainee(db.session, redis_client(), pii(), phone_or_id)
    except binding.UnbindError as exc:
        fail(exc.message)
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


# -- followers (issue 9) ---------------------------------------------------------------------------

follower_cli = AppGroup("follower", help="关注者 (who follows the account).")


@follower_cli.command("sync")
def follower_sync() -> None:
    """Records who follows the account, from WeChat's follower list (user/get, user/info/batchget)."""
    from models import db
    from services.identity import followers
    from services.timeutil import utcnow
    from services.wechat_api import WeChatApiError
    from wxapp.extensions import wechat_api

    try:
        report = followers.sync(db.session, wechat_api(), utcnow())
    except WeChatApiError as exc:
        fail(f"无法读取微信关注者列表：errcode={exc.errcode} {exc.errmsg}")
    click.echo(f"关注者 {report.listed} 人（{report.pages} 页）；已知微信用户中逐个核实 {report.checked} 人；"
               f"记为关注 {report.following} 人，记为未关注 {report.not_following} 人。")


GROUPS = (roster_cli, catalog_cli, class_cli, menu_cli, demo_cli, trainee_cli, scheduler_cli, staff_cli, follower_cli)
