"""Classes: list, create, edit (a moved class's unsent reminder is withdrawn; the scheduler writes
the new one), members with their hours, and the class-open notice: a first POST shows how many
trainees get WeChat and how many SMS, a second with confirm=1 sends (the service behind
`notify class-open`); then each trainee's delivery, and a retry of failed texts (`notify retry`)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from models import TrainingClass
from services.admin import classes
from services.school.classes import (
    ClassError,
    add_member,
    create_class,
    find_class,
    local_start_of,
    remove_member,
    update_class,
)
from services.school.majors import MAJOR_NAMES
from wxapp.admin import bp
from wxapp.admin.auth import actor
from wxapp.admin.helpers import page_arg
from wxapp.extensions import db, notice_desk, pii

# A notice sent from a page waits this long for its messages; the scheduler sends what is left.
SEND_WAIT_S = 20
# A class-open notice to more trainees than this is left whole to the scheduler's dispatcher (every
# 10 s): a web worker sending a term's push itself held its threads, and six at once in one worker ran
# out of Redis connections (bench/term.py). The delivery table refreshes itself while rows wait.
INLINE_SEND_MAX = 300


def _class_or_404(code: str) -> TrainingClass:
    try:
        return find_class(db.session, code)
    except ClassError:
        abort(404)


@bp.route("/classes", methods=["GET", "POST"])
def classes_page():
    form = request.form
    if request.method == "POST":
        try:
            training_class, created = create_class(db.session, form.get("code", ""), form.get("major", ""),
                                                   form.get("name", ""), form.get("starts", ""), form.get("place", ""),
                                                   actor())
        except ClassError as exc:  # the form again with what was typed, not a redirect that loses it
            return render_template("admin/classes.html", rows=classes.all_classes(db.session), majors=MAJOR_NAMES,
                                   error=exc.message, form=form), exc.status
        flash(f"已创建班级 {training_class.code}" if created else f"班级 {training_class.code} 已存在且内容相同", "success")
        return redirect(url_for("admin.class_page", code=training_class.code))
    # A link may prefill the form (the roster preview's 创建班级 for a code it doesn't know).
    return render_template("admin/classes.html", rows=classes.all_classes(db.session), majors=MAJOR_NAMES,
                           form=request.args)


@bp.route("/classes/<code>")
def class_page(code: str):
    """The class, one page of its members (`page`) and one of its delivery table (`dpage`)."""
    training_class = _class_or_404(code)
    page, dpage = page_arg(), page_arg("dpage")
    return render_template("admin/class.html", training_class=training_class,
                           members=classes.members(db.session, training_class, page),
                           member_total=classes.member_count(db.session, training_class),
                           delivery=classes.deliveries(db.session, training_class, dpage), page=page, dpage=dpage,
                           page_size=classes.PAGE_SIZE, starts=local_start_of(training_class.starts_at))


@bp.route("/classes/<code>/edit", methods=["POST"])
def class_edit(code: str):
    form = request.form
    changes = update_class(db.session, code, form.get("name", ""), form.get("starts", ""), form.get("place", ""), actor())
    flash("已保存：" + "；".join(changes) if changes else "内容未变", "success")
    return redirect(url_for("admin.class_page", code=code))


@bp.route("/classes/<code>/members", methods=["POST"])
def class_member_add(code: str):
    flash("已加入本班：" + add_member(db.session, pii(), code, request.form.get("who", ""), actor()), "success")
    return redirect(url_for("admin.class_page", code=code) + "#members")


@bp.route("/classes/<code>/members/<int:trainee_id>/remove", methods=["POST"])
def class_member_remove(code: str, trainee_id: int):
    flash("已移出本班：" + remove_member(db.session, code, trainee_id, actor()), "success")
    return redirect(url_for("admin.class_page", code=code) + "#members")


@bp.route("/classes/<code>/notify", methods=["POST"])
def class_notify(code: str):
    training_class = _class_or_404(code)
    tools = notice_desk()
    wechat_ready = bool(tools.templates["class_open"].wechat.template_id)
    if request.form.get("confirm") != "1":
        preview = classes.notify_preview(db.session, training_class, wechat_ready)
        return render_template("admin/notify_confirm.html", training_class=training_class, preview=preview, wechat_ready=wechat_ready,
                               sms_backend=tools.sms.name)
    notice = tools.class_open(training_class.code, actor())
    if notice.recipients <= INLINE_SEND_MAX:
        tools.dispatcher().run(notice_id=notice.id, wait=True, max_seconds=SEND_WAIT_S)
        flash(f"开班通知已发出：学员 {notice.recipients} 人，送达情况见下表", "success")
    else:
        tools.nudge()
        flash(f"开班通知已排队：学员 {notice.recipients} 人，系统正在陆续发送，送达情况见下表（自动刷新）", "success")
    return redirect(url_for("admin.class_page", code=training_class.code) + "#delivery")


@bp.route("/classes/<code>/delivery")
def class_delivery(code: str):
    """The delivery table alone (the page `dpage` of it), for htmx to refresh while messages are still on their way."""
    training_class = _class_or_404(code)
    dpage = page_arg("dpage")
    return render_template("admin/_delivery.html", training_class=training_class, page=page_arg(), dpage=dpage,
                           delivery=classes.deliveries(db.session, training_class, dpage), page_size=classes.PAGE_SIZE)


@bp.route("/classes/<code>/retry", methods=["POST"])
def class_retry(code: str):
    _, results = notice_desk().retry_texts(code, actor())
    again = sum(result.requeued for result in results)
    flash(f"已重发失败短信 {again} 条" if again else "没有需要重发的短信（状态未知的短信不重发，请人工核实）",
          "success" if again else "info")
    return redirect(url_for("admin.class_page", code=code) + "#delivery")
