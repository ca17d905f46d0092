"""The photos taken before and after an exam (附件3: 采集人像 … 交卷验证).

Only JPEG or PNG up to 5 MB are taken. Each is re-encoded with Pillow: orientation applied from
EXIF, at most 1280 px on its longer side, saved as JPEG, so EXIF (GPS, phone model) is dropped
and nothing the phone embedded reaches the store. Pillow's decompression-bomb guard stays on.
"""
from __future__ import annotations

import io
import secrets
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from services.exam import ExamError

MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 1280
QUALITY = 85
ACCEPTED = ("JPEG", "PNG")
NO_PHOTO = "请先拍摄本人正面照片（JPEG 或 PNG 格式，不超过 5 MB）。"


def prepare(data: bytes | None) -> bytes:
    """The photo as an upright JPEG without EXIF, or ExamError(400) saying what is wrong."""
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
                # A JPEG decodes at 1/2, 1/4… of its size when that still covers MAX_SIDE: a 4000 px
                # phone photo costs a quarter of the work (EXIF orientation is kept, read below).
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))
                image.load()
                upright = ImageOps.exif_transpose(image)
                upright.thumbnail((MAX_SIDE, MAX_SIDE))
                out = io.BytesIO()
                upright.convert("RGB").save(out, "JPEG", quality=QUALITY)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError,
            Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ExamError("无法识别这张照片，请重新拍摄（JPEG 或 PNG 格式）。") from None
    return out.getvalue()


def new_key(attempt_id: int, moment: str) -> str:
    """`exam/<attempt>/<before|after>-<random>.jpg`: unguessable, so a leaked listing reveals no pattern."""
    return f"exam/{attempt_id}/{moment}-{secrets.token_hex(8)}.jpg"
