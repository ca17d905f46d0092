"""What face comparison asks at the exam's door: the trainee's separate consent (PIPL treats face
data as sensitive personal information) before the first start, and a photo with exactly one
face at start and at submit, so that a trainee retakes at once rather than being flagged later.
Only when face comparison is enabled."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.faces import FaceConsent
from services.db import transaction
from services.exam import ExamError
from services.exam.faces import FaceSettings

if TYPE_CHECKING:
    from PIL import Image

    from services.exam.faces.engine import FaceEngine

# The wording's version (wxapp/h5/templates/h5/_face_consent.html): a new wording asks again.
CONSENT_VERSION = "2026-12"


def consent_text(settings: FaceSettings) -> list[str]:
    """The consent's paragraphs, as the exam page shows them (考试须知：人脸比对)."""
    return [
        "为核实参加考试的是学员本人（防止替考），本校将对您考前、交卷时拍摄的照片进行人脸比对："
        "比对同一场考试的两张照片、您本人以往各次考试的照片，以及其他学员的考试照片。",
        "比对在本校自己的服务器上完成，不使用任何外部服务；照片及从照片中提取的人脸特征加密保存，"
        f"保存 {settings.retention_days} 天后删除，仅教务人员在核查时查看。",
        "比对结果只提示教务人员复核，不会自动取消成绩；是否取消成绩由教务人员核实后决定。",
        "人脸信息属于敏感个人信息，需要您单独同意。如不同意人脸比对，请联系学校另行安排核验："
        f"{settings.contact}。",
    ]


@dataclass
class FaceGate:
    settings: FaceSettings
    engine: FaceEngine | None  # None when disabled: dlib and numpy are never imported then

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    @classmethod
    def build(cls, settings: FaceSettings, warm: bool = False) -> FaceGate:
        """The gate; with `warm`, the detector is built in the background now (a web worker's start)."""
        if not settings.enabled:
            return cls(settings, None)
        from services.exam.faces.engine import FaceEngine

        engine = FaceEngine()
        if warm:
            engine.warm()
        return cls(settings, engine)

    def has_consent(self, session: Session, trainee_id: int) -> bool:
        if not self.enabled:
            return True
        consent = session.get(FaceConsent, trainee_id)
        return consent is not None and consent.version == CONSENT_VERSION

    def require_consent(self, session: Session, trainee_id: int) -> None:
        if not self.has_consent(session, trainee_id):
            raise ExamError("开始考试前，请先阅读考试须知，并单独同意人脸比对。如不同意人脸比对，"
                            f"请联系学校另行安排核验：{self.settings.contact}。", 403)

    def give_consent(self, session: Session, trainee_id: int, now: datetime) -> None:
        """Records the trainee's consent to the current wording (again, or while disabled: a no-op)."""
        if not self.enabled:
            return
        try:
            with transaction(session):
                consent = session.get(FaceConsent, trainee_id)
                if consent is None:
                    session.add(FaceConsent(trainee_id=trainee_id, given_at=now, version=CONSENT_VERSION))
                elif consent.version != CONSENT_VERSION:
                    consent.given_at, consent.version = now, CONSENT_VERSION
        except IntegrityError:
            pass  # the same trainee's two taps at once: one row stands

    def check_photo(self, photo: bytes | Image.Image) -> None:
        """Exactly one face on the photo to be stored (its JPEG, or the picture `photos.prepare_photo`
        encoded it from), else ExamError(400): nothing is stored."""
        if self.enabled and self.engine is not None:
            self.engine.check_upload(photo)
