"""Face comparison of exam photos (人脸比对, CONTRACT §7): who sat the exam.

dlib's HOG face detector, its 5-point shape predictor and its ResNet encoder (weights shipped
inside `face_recognition_models`; the 68-point predictor in the same package is never loaded: its
iBUG 300-W licence forbids commercial use). Optional, as `requirements-face.txt`: without the
packages, or with `FACE_MATCH=off`, `FaceSettings.enabled` is false and everything else works.

- At upload (`gate`): the photo must show exactly one face (detection on a downscaled copy).
- In the background (`analysis`, a scheduler job): each photo's 128-number embedding, stored
  encrypted (`vault`), then each attempt's signals and risk (`signals`), searched over every
  embedding (`index`). Staff decide in the review queue (`review`); nothing is voided by itself.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

# dlib's documented operating point: 99.38 % on LFW at a Euclidean distance of 0.6.
DEFAULT_THRESHOLD = 0.6
DEFAULT_RETENTION_DAYS = 365
NOT_ENABLED = "人脸比对未启用"
PACKAGES = ("numpy", "dlib", "face_recognition_models")


@dataclass(frozen=True)
class FaceSettings:
    installed: bool  # requirements-face.txt is installed
    enabled: bool  # installed and not FACE_MATCH=off
    threshold: float = DEFAULT_THRESHOLD
    retention_days: int = DEFAULT_RETENTION_DAYS
    contact: str = ""  # the school's contact line with its phone, for those who refuse

    @property
    def status_text(self) -> str:
        if self.enabled:
            return f"人脸比对已启用（阈值 {self.threshold:g}）"
        return NOT_ENABLED + ("（FACE_MATCH=off）" if self.installed else "（未安装 requirements-face.txt）")


def installed() -> bool:
    """Whether the optional packages are there (looked up without importing them)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in PACKAGES)
    except (ImportError, ValueError):
        return False
