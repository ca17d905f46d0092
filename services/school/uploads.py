"""Workbooks staff upload in the console, previewed before they are imported: an upload waiting
for confirmation is kept in Redis under a random token for `UPLOAD_TTL_S`, not on one web host's
disk (the confirmation may reach another gunicorn host). The token is all a page or URL carries;
the file's personal data never appears in one. Confirming imports it as `roster import` /
`catalog import` do, recorded in the audit log in the import's transaction.
"""
from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from typing import TypeVar

import redis as redis_lib
from sqlalchemy.orm import Session

from services import ServiceError, keys
from services.identity.pii import PiiCipher
from services.school import roster_preview
from services.school.imports import ImportReport, import_catalog, import_roster
from services.school.imports.catalog import CatalogReport
from services.school.imports.roster import COLUMNS
from services.school.imports.sheet import read_sheet
from services.school.roster_preview import RosterPreview

UPLOAD_TTL_S = 30 * 60
MAX_UPLOAD = 10 * 1024 * 1024
XLSX_MAGIC = b"PK\x03\x04"
Report = TypeVar("Report")


class UploadError(ServiceError):
    pass


def keep_upload(redis: redis_lib.Redis, data: bytes, what: str = "报名汇总表") -> str:
    """Stores an uploaded workbook until confirmation; returns its token."""
    if not data:
        raise UploadError(f"请选择要上传的{what}（.xlsx 文件）")
    if len(data) > MAX_UPLOAD:
        raise UploadError(f"文件超过 {MAX_UPLOAD // 1024 // 1024} MB")
    if not data.startswith(XLSX_MAGIC):
        raise UploadError("文件不是 Excel .xlsx 格式：请在 Excel 中“另存为” .xlsx 后再上传")
    token = secrets.token_urlsafe(18)
    redis.set(keys.admin_upload(token), data, ex=UPLOAD_TTL_S)
    return token


def _with_upload(redis: redis_lib.Redis, token: str, use: Callable[[str], Report]) -> Report:
    """Runs `use` on the kept upload, written to a temporary file for the import to read."""
    data = redis.get(keys.admin_upload(token)) if token and len(token) < 64 else None
    if not isinstance(data, bytes):
        raise UploadError("上传的文件已过期或不存在，请重新上传")
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as tmp:
        tmp.write(data)
        tmp.flush()
        return use(tmp.name)


def preview_roster(session: Session, redis: redis_lib.Redis, cipher: PiiCipher, token: str) -> RosterPreview:
    """What importing the uploaded roster would do, row by row (roster_preview.py); writes nothing."""
    def run(path: str) -> RosterPreview:
        report = import_roster(session, cipher, path, dry_run=True)
        return roster_preview.named(session, report, read_sheet(path, COLUMNS))

    return _with_upload(redis, token, run)


def import_roster_upload(session: Session, redis: redis_lib.Redis, cipher: PiiCipher, token: str, actor: str,
                         filename: str) -> ImportReport:
    """Imports the uploaded roster, recorded, and forgets the file."""
    report = _with_upload(redis, token, lambda path: import_roster(session, cipher, path, actor=actor,
                                                                   filename=filename))
    redis.delete(keys.admin_upload(token))
    return report


def preview_catalog(session: Session, redis: redis_lib.Redis, token: str) -> CatalogReport:
    """What importing the uploaded catalog would do, row by row, with its warnings; writes nothing."""
    return _with_upload(redis, token, lambda path: import_catalog(session, path, dry_run=True))


def import_catalog_upload(session: Session, redis: redis_lib.Redis, token: str, actor: str,
                          filename: str) -> CatalogReport:
    """Imports the uploaded catalog, recorded (warnings and revived lessons included), and forgets the file."""
    report = _with_upload(redis, token, lambda path: import_catalog(session, path, actor=actor, filename=filename))
    redis.delete(keys.admin_upload(token))
    return report
