"""The photos taken before and after an exam (附件3: 采集人像 … 交卷验证).

Only JPEG or PNG up to 5 MB are taken. Each is re-encoded with Pillow: orientation applied from
EXIF, at most 1280 px on its longer side, saved as JPEG, so EXIF (GPS, phone model) is dropped
and nothing the phone embedded reaches the store. Pillow's decompression-bomb guard stays on.

A phone camera's JPEG (12 MP, 4000 × 3000) is decoded straight at a fraction of its size: JPEG's
DCT scaling (Pillow's draft mode) gives 1/2, 1/4 or 1/8 for much less work than decoding it whole
and resizing. The largest fraction whose longer side still holds MIN_SIDE is taken (1/4: 1000 ×
750), and no resize follows: 200 trainees starting the exam at once spent their CPU here.
"""
from __future__ import annotations

import io
import secrets
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from services.exam import ExamError

MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 1280
MIN_SIDE = 960  # a face for staff to compare (and for detection) needs no more
QUALITY = 85
ACCEPTED = ("JPEG", "PNG")
NO_PHOTO = "请先拍摄本人正面照片（JPEG 或 PNG 格式，不超过 5 MB）。"


@dataclass(frozen=True)
class Prepared:
    """The photo as stored (`jpeg`) and the upright picture it was encoded from (`image`), which the
    upload's face check reads instead of decoding the JPEG again."""

    jpeg: bytes
    image: Image.Image


def prepare(data: bytes | None) -> bytes:
    """The photo as an upright JPEG without EXIF, or ExamError(400) saying what is wrong."""
    return prepare_photo(data).jpeg


def prepare_photo(data: bytes | None) -> Prepared:
    """`prepare`, keeping the decoded picture beside the JPEG."""
    if not data:
        raise ExamError(NO_PHOTO)
    if len(data) > MAX_BYTES:
        raise ExamError("照片超过 5 MB，请重新拍摄。")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in ACCEPTED:
                    raise ExamError("照片只能是 JPEG 或 PNG 格式，请重新拍摄。")
                image.draft("RGB", decode_size(image.size))  # EXIF orientation is kept, read below
                image.load()
                upright = ImageOps.exif_transpose(image)
                upright.thumbnail((MAX_SIDE, MAX_SIDE))
                picture = upright.convert("RGB")
                out = io.BytesIO()
                picture.save(out, "JPEG", quality=QUALITY)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError,
            Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ExamError("无法识别这张照片，请重新拍摄（JPEG 或 PNG 格式）。") from None
    return Prepared(out.getvalue(), picture)


def decode_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size to decode a JPEG at: the smallest DCT fraction (1/8, 1/4, 1/2) still ≥ MIN_SIDE long."""
    width, height = size
    for fraction in (8, 4, 2):
        if max(width, height) // fraction >= MIN_SIDE:
            return -(-width // fraction), -(-height // fraction)
    return width, height


def new_key(attempt_id: int, moment: str) -> str:
    """`exam/<attempt>/<before|after>-<random>.jpg`: unguessable, so a leaked listing reveals no pattern."""
    return f"exam/{attempt_id}/{moment}-{secrets.token_hex(8)}.jpg"
