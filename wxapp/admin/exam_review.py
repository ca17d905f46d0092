"""A trainee's exam and certificates on the console: the attempts' photos (read from the photo
storage, served only here, behind the staff session, never at a public URL), void with a reason and
release of an open attempt, the certificate PDF, lifting a binding lock, and the provincial
completions file. Each view parses, makes one service call, renders."""
from __future__ import annotations

from urllib.parse import quote

from flask import abort, flash, make_response, redirect, render_template, request, url_for

from services.admin import exam_review, reports
from services.completion import certificates
from services.completion import staff as completion_staff
from services.completion.pdf import render_pdf
from services.exam import ExamError, attempts
from services.exam import staff as exam_staff
from services.identity import binding
from services.school.majors import MAJOR_NAMES
from services.timeutil import SHANGHAI, utcnow
from wxapp import config
from wxapp.admin import bp
from wxapp.admin.auth import actor
from wxapp.admin.helpers import xlsx_response
from wxapp.extensions import db, exam_tools, links, notice_desk, pii, redis_client

SEND_WAIT_S = 10
PHOTO_TYPES = {b"\xff\xd8": "image/jpeg", b"\x89P": "image/png"}


def _back(trainee_id: int, anchor: str):
    return redirect(url_for("admin.trainee_page", trainee_id=trainee_id) + anchor)


@bp.route("/trainees/<int:trainee_id>/attempts/<int:attempt_id>/<any(before, after):which>.jpg")
def attempt_photo(trainee_id: int, attempt_id: int, which: str):
    try:
        data = attempts.photo(exam_tools(), trainee_id, attempt_id, which)
    except ExamError as exc:
        abort(exc.status)
    response = make_response(data)
    response.headers["Content-Type"] = PHOTO_TYPES.get(data[:2], "application/octet-stream")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/trainees/<int:trainee_id>/attempts/<int:attempt_id>/void", methods=["POST"])
def attempt_void(trainee_id: int, attempt_id: int):
    _, notice = exam_staff.void(exam_tools(), attempt_id, actor(), request.form.get("reason", ""), utcnow(),
                                trainee_id=trainee_id)
    notice_desk().dispatcher().run(notice_id=notice.id, wait=True, max_seconds=SEND_WAIT_S)
    flash("已取消该次考试的合格成绩：结业记录与学时证明已作废，考试重新开放，已通知学员原因", "success")
    return _back(trainee_id, "#exam")


@bp.route("/trainees/<int:trainee_id>/attempts/<int:attempt_id>/release", methods=["POST"])
def attempt_release(trainee_id: int, attempt_id: int):
    exam_staff.release(exam_tools(), attempt_id, actor(), trainee_id=trainee_id)
    flash("已释放：学员下次打开考试页面（任何设备）即可继续作答", "success")
    return _back(trainee_id, "#exam")


@bp.route("/trainees/<int:trainee_id>/unlock", methods=["POST"])
def trainee_unlock(trainee_id: int):
    done = binding.unlock_trainee(db.session, redis_client(), trainee_id, actor())
    flash(f"已解除认证锁定 {done.lifted} 项，学员可立即重新认证" if done.lifted
          else "该学员没有被锁定的认证（已清除失败次数）", "success")
    return _back(trainee_id, "#binding")


@bp.route("/trainees/<int:trainee_id>/certificates/<number>.pdf")
def certificate_pdf(trainee_id: int, number: str):
    cert = certificates.certificate_of(db.session, trainee_id, number)
    if cert is None:
        abort(404)
    url = links().verify(cert.number)
    pdf = render_pdf(render_template("h5/certificate.html", cert=cert, school_name=config.current().school_name,
                                     verify_url=url, qr=certificates.qr_svg(url), date_text=certificates.date_text))
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (f"inline; filename=\"certificate-{cert.number}.pdf\"; "
                                               f"filename*=UTF-8''{quote(f'学时证明-{cert.number}.pdf')}")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/exports/completions", methods=["POST"])
def export_completions():
    """POST (a recorded download of full ID card numbers is a change, and needs the form's CSRF token)."""
    form = request.form
    wanted = exam_review.export_filter(form.get("from", ""), form.get("to", ""), form.get("major", ""))
    empty = reports.completions_empty_reason(db.session, wanted)
    if empty:
        flash(empty, "warning")
        return redirect(url_for("admin.exports"))
    data, _ = completion_staff.completions_file(db.session, pii(), wanted, actor())
    return xlsx_response(data, f"结业名单-{utcnow().astimezone(SHANGHAI).strftime('%Y%m%d')}.xlsx")


@bp.app_context_processor
def majors() -> dict:
    return {"MAJOR_NAMES": MAJOR_NAMES}
