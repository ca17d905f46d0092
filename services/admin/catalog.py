"""The catalog in the staff console: upload the catalog workbook, preview what it would do (each
rejected row and every warning about a course's hours; nothing written), confirm to import, and
the lessons' order, recorded. The import itself is `catalog import`'s (`import_catalog`)."""
from __future__ import annotations

import redis as redis_lib
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import Course, Lesson, Major
from services import ServiceError, keys
from services.admin.rosters import _with_upload
from services.identity import audit
from services.school.imports.catalog import CatalogReport, import_catalog


class CatalogError(ServiceError):
    pass


def preview(session: Session, redis: redis_lib.Redis, token: str) -> CatalogReport:
    """What importing the upload would do, row by row, with its warnings; writes nothing."""
    return _with_upload(redis, token, lambda path: import_catalog(session, path, dry_run=True))


def confirm(session: Session, redis: redis_lib.Redis, token: str, actor: str, filename: str) -> CatalogReport:
    """Imports the upload, records it (warnings included) in the audit log, and forgets the file."""
    report = _with_upload(redis, token, lambda path: import_catalog(session, path))
    redis.delete(keys.admin_upload(token))
    detail = f"新增 {report.created}，更新 {report.updated}，未变 {report.unchanged}，拒绝 {len(report.rejected)}"
    audit.record(session, actor, "catalog_imported", f"file:{filename[:80]}",
                 "；".join([detail, *report.warnings]))
    session.commit()
    return report


def courses(session: Session) -> list[Course]:
    """Every course with its lessons in order: the 公共课 first, then the majors' in their order."""
    rows = session.scalars(select(Course).outerjoin(Major, Major.id == Course.major_id)
                           .options(selectinload(Course.lessons)).order_by(Major.position.nullsfirst(), Course.id))
    return list(rows)


def move_lesson(session: Session, lesson_id: int, up: bool, actor: str) -> Lesson:
    """Swaps the lesson with its neighbour (trainees see lessons in this order), recorded."""
    lesson = session.get(Lesson, lesson_id)
    if lesson is None:
        raise CatalogError("没有这个视频课时")
    siblings = sorted(lesson.course.lessons, key=lambda x: (x.position, x.id))
    at = siblings.index(lesson)
    other = at - 1 if up else at + 1
    if not 0 <= other < len(siblings):
        raise CatalogError(f"“{lesson.title}”已在{'最前' if up else '最后'}")
    siblings[at], siblings[other] = siblings[other], siblings[at]
    for n, item in enumerate(siblings, 1):
        item.position = n  # numbered afresh: equal positions from older imports can't stall a move
    audit.record(session, actor, "lesson_moved", f"lesson:{lesson.id}",
                 f"{lesson.course.name}：“{lesson.title}”{'上移' if up else '下移'}到第 {siblings.index(lesson) + 1} 位")
    session.commit()
    return lesson
