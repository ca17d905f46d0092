"""考试复核 (/admin/exams/review): the attempts face comparison flagged, riskiest first, each with
its reasons and its photos beside the matched photos of other attempts; 确认无误 (recorded, leaves
the queue) and 取消成绩 (the existing void: the trainee is told why). Each view parses, makes one
service call, renders."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from models.exam import ExamAttempt
from services.exam import ExamError
from services.exam import staff as exam_staff
from services.exam.faces import review
from services.timeutil import utcnow
from wxapp.admin import bp
from wxapp.admin.auth import actor
from wxapp.extensions import db, exam_tools, face_gate, notice_desk

SEND_WAIT_S = 10


@bp.route("/exams/review")
def exam_faces_review():
    return render_template("admin/exam_faces_review.html", items=review.queue(db.session),
                           waiting=review.waiting_count(db.session), settings=face_gate().settings)


@bp.route("/exams/review/<int:attempt_id>/clear", methods=["POST"])
def exam_faces_clear(attempt_id: int):
    try:
        review.clear(db.session, attempt_id, actor(), utcnow())
    except ExamError as exc:
        flash(exc.message, "danger")
    else:
        flash(f"考试记录 #{attempt_id} 已确认无误，移出待复核名单", "success")
    return redirect(url_for("admin.exam_faces_review"))


@bp.route("/exams/review/<int:attempt_id>/void", methods=["POST"])
def exam_faces_void(attempt_id: int):
    attempt = db.session.get(ExamAttempt, attempt_id)
    if attempt is None:
        flash(f"没有编号为 {attempt_id} 的考试记录", "danger")
        return redirect(url_for("admin.exam_faces_review"))
    _, notice = exam_staff.void(exam_tools(), attempt_id, actor(), request.form.get("reason", ""), utcnow())
    notice_desk().dispatcher().run(notice_id=notice.id, wait=True, max_seconds=SEND_WAIT_S)
    flash(f"已取消考试记录 #{attempt_id} 的合格成绩：结业记录与学时证明已作废，考试重新开放，已通知学员原因", "success")
    return redirect(url_for("admin.exam_faces_review"))
