"""The catalog: upload the catalog workbook, preview (nothing written), confirm; the courses'
lessons, their order, and retiring (停用) and restoring (恢复) them."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from services import ServiceError
from services.admin import catalog
from services.school import catalog as lessons
from services.school import uploads
from wxapp.admin import bp
from wxapp.admin.auth import actor
from wxapp.extensions import db, redis_client


@bp.route("/catalog", methods=["GET", "POST"])
def catalog_page():
    if request.method == "GET":
        return render_template("admin/catalog.html", courses=catalog.courses(db.session))
    upload = request.files.get("file")
    filename = (upload.filename or "") if upload else ""
    try:
        data = upload.read(uploads.MAX_UPLOAD + 1) if upload else b""
        token = uploads.keep_upload(redis_client(), data, "课程目录")
        report = uploads.preview_catalog(db.session, redis_client(), token)
    except ServiceError as exc:  # the upload form again, with the reason on it
        return render_template("admin/catalog.html", courses=catalog.courses(db.session), error=exc.message), exc.status
    return render_template("admin/catalog_preview.html", report=report, token=token, filename=filename[:80])


@bp.route("/catalog/confirm", methods=["POST"])
def catalog_confirm():
    filename = request.form.get("filename", "")[:80]
    report = uploads.import_catalog_upload(db.session, redis_client(), request.form.get("token", ""), actor(), filename)
    flash(f"已导入课程目录：新增 {report.created}，更新 {report.updated}，未变 {report.unchanged}，"
          f"拒绝 {len(report.rejected)}", "success")
    if report.revived:
        flash(report.revived_text(), "success")
    for warning in report.warnings:
        flash("注意：" + warning, "warning")
    return redirect(url_for("admin.catalog_page"))


@bp.route("/catalog/lessons/<int:lesson_id>/move", methods=["POST"])
def lesson_move(lesson_id: int):
    lesson = lessons.move_lesson(db.session, lesson_id, request.form.get("to") == "up", actor())
    return redirect(url_for("admin.catalog_page") + f"#lesson-{lesson.id}")


@bp.route("/catalog/lessons/<int:lesson_id>/retire", methods=["POST"])
def lesson_retire(lesson_id: int):
    return _retirement(lessons.retire_lesson, lesson_id)


@bp.route("/catalog/lessons/<int:lesson_id>/restore", methods=["POST"])
def lesson_restore(lesson_id: int):
    return _retirement(lessons.restore_lesson, lesson_id)


def _retirement(change, lesson_id: int):
    done = change(db.session, lesson_id, actor())
    if done.retired:
        kept = f"；已获得其学时的 {done.earned} 名学员，学时照常计入" if done.earned else ""
        flash(f"已停用“{done.title}”：学员不再看到、也不能开始学习这个视频课时{kept}", "success")
    else:
        flash(f"已恢复“{done.title}”：学员可以重新学习这个视频课时", "success")
    if done.warning:
        flash("注意：" + done.warning, "warning")
    return redirect(url_for("admin.catalog_page") + f"#lesson-{done.lesson_id}")
