"""A trainee's exam, certificates and binding lock in the staff console: the same services the
`exam void` / `exam release` / `trainee unlock` commands call, each recorded in the audit log in the
same transaction as the change (the record is added first; the service's commit takes both, its
rollback drops both), and the provincial completions file as bytes for a recorded download."""
from __future__ import annotations

import tempfile
from datetime import date, datetime
from pathlib import Path

import redis as redis_lib
from sqlalchemy.orm import Session

from models import Notice, Trainee
from models.exam import ExamAttempt
from services import ServiceError
from services.completion.export import ExportFilter, ExportRefused, export_completions
from services.exam import ExamError, staff
from services.exam.grading import ExamTools
from services.identity import audit, binding
from services.identity.pii import PiiCipher
from services.school.majors import MAJOR_NAMES


class ReviewError(ServiceError):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _of_trainee(tools: ExamTools, trainee: Trainee, attempt_id: int) -> ExamAttempt:
    attempt = tools.session.get(ExamAttempt, attempt_id)
    if attempt is None or attempt.trainee_id != trainee.id:
        raise ReviewError("没有找到这次考试记录", 404)
    return attempt


def void(tools: ExamTools, trainee: Trainee, attempt_id: int, actor: str, reason: str, now: datetime) -> Notice:
    """取消测试成绩 (`exam void`): the completion is cancelled, the exam opens again, the trainee is told."""
    if not reason.strip():
        raise ReviewError("请填写取消成绩的原因，学员会收到这条原因")
    attempt = _of_trainee(tools, trainee, attempt_id)
    audit.record(tools.session, actor, "exam_voided", f"attempt:{attempt.id}",
                 f"{trainee.name}（{trainee.id_card_mask}）{attempt.major.name} {attempt.score} 分：{reason.strip()[:200]}")
    try:
        _, notice = staff.void(tools, attempt.id, actor, reason, now)
    except ExamError as exc:
        raise ReviewError(exc.message) from None
    return notice


def release(tools: ExamTools, trainee: Trainee, attempt_id: int, actor: str) -> None:
    """Frees an open attempt from the browser that holds it (`exam release`)."""
    attempt = _of_trainee(tools, trainee, attempt_id)
    audit.record(tools.session, actor, "exam_released", f"attempt:{attempt.id}",
                 f"{trainee.name}（{trainee.id_card_mask}）{attempt.major.name}：释放作答中的考试，可换设备继续")
    try:
        staff.release(tools, attempt.id)
    except ExamError as exc:
        raise ReviewError(exc.message) from None


def unlock(session: Session, redis: redis_lib.Redis, cipher: PiiCipher, trainee: Trainee, actor: str) -> binding.Unlocked:
    """Lifts the binding locks of the WeChats that tried this trainee (`binding.unlock_trainee`), recorded."""
    id_card = cipher.decrypt(trainee.id_card_enc)  # find_trainee takes what staff would type
    try:
        done = binding.unlock_trainee(session, redis, cipher, id_card)
    except binding.UnbindError as exc:
        raise ReviewError(exc.message) from None
    audit.record(session, actor, "binding_unlocked", f"trainee:{trainee.id}",
                 f"{trainee.name}（{trainee.id_card_mask}）：解除认证锁定 {done.lifted} 项（涉及微信 {done.wechats} 个）")
    session.commit()
    return done


def export_filter(raw_from: str, raw_to: str, major: str) -> ExportFilter:
    """The export's form fields as the command's options; a mistyped one is refused in words."""
    def day(raw: str, label: str) -> date | None:
        raw = raw.strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise ReviewError(f"{label}应为 YYYY-MM-DD 格式的日期") from None

    wanted = ExportFilter(day(raw_from, "起始日期"), day(raw_to, "截止日期"), major.strip() or None)
    if wanted.major is not None and wanted.major not in MAJOR_NAMES:
        raise ReviewError(f"没有“{wanted.major[:20]}”这个专业")
    return wanted


def completions_file(session: Session, cipher: PiiCipher, wanted: ExportFilter, actor: str) -> tuple[bytes, int]:
    """The provincial completions file (full ID card numbers) and its row count; the download is
    recorded. The file is written by `export_completions` into a private temporary directory."""
    with tempfile.TemporaryDirectory(prefix="completions-") as folder:
        target = Path(folder) / "completions.xlsx"
        try:
            result = export_completions(session, cipher, target, wanted)
        except ExportRefused as exc:
            raise ReviewError(exc.message) from None
        data = target.read_bytes()
    parts = [f"从 {wanted.date_from}" if wanted.date_from else "", f"到 {wanted.date_to}" if wanted.date_to else "",
             wanted.major or ""]
    audit.record(session, actor, "completions_exported", "export:completions",
                 f"导出结业名单（含完整身份证号）{result.rows} 条" + ("：" + " ".join(p for p in parts if p) if any(parts) else ""))
    session.commit()
    return data, result.rows
