"""Real face photos for the face comparison tests, as they ship inside registry packages
(requirements-dev.txt), read from the installed files without importing the packages:

- matplotlib's `mpl-data/sample_data/grace_hopper.jpg` (Grace Hopper, US Navy photo, public domain);
- scikit-image's `data/astronaut.png` (Eileen Collins, NASA, public domain) and `data/chelsea.png`
  (a cat, Stefan van der Walt);

and what a phone does to them: crops, a tilted head, recompression, light.
"""
from __future__ import annotations

import importlib.util
import io
from datetime import timedelta
from pathlib import Path

from PIL import Image, ImageEnhance

from models import db


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, f"{name} is a dev requirement"
    return Path(next(iter(spec.submodule_search_locations)))


def grace_hopper() -> Image.Image:
    return Image.open(_package_dir("matplotlib") / "mpl-data" / "sample_data" / "grace_hopper.jpg").convert("RGB")


def astronaut() -> Image.Image:
    return Image.open(_package_dir("skimage") / "data" / "astronaut.png").convert("RGB")


def cat() -> Image.Image:
    return Image.open(_package_dir("skimage") / "data" / "chelsea.png").convert("RGB")


def wall() -> Image.Image:
    return Image.new("RGB", (1280, 960), (196, 188, 176))


def two_people() -> Image.Image:
    """Grace Hopper and the astronaut side by side, as a second person leaning into the picture."""
    picture = Image.new("RGB", (1160, 660), (90, 90, 90))
    picture.paste(grace_hopper(), (0, 30))
    picture.paste(astronaut().crop((80, 0, 400, 330)).resize((640, 660)), (520, 0))
    return picture


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def variants(image: Image.Image) -> dict[str, bytes]:
    """The same face as different phones and moments take it."""
    w, h = image.size
    return {
        "crop": jpeg(image.crop((w // 8, h // 10, w - w // 10, h - h // 12))),
        "tilted": jpeg(image.rotate(8, expand=True, fillcolor=(128, 128, 128))),
        "recompressed": jpeg(image, quality=30),
        "brighter": jpeg(ImageEnhance.Brightness(image).enhance(1.5)),
        "darker": jpeg(ImageEnhance.Brightness(image).enhance(0.6)),
        "larger": jpeg(image.resize((w * 2, h * 2))),
    }


def sit_with(app, trainee_id: int, before: bytes, after: bytes | None, token: str = "t", when=None) -> int:
    """An attempt of the trainee's first exam with these photos (consent given first), answered
    right and handed in with `after` (left open when None); returns its id."""
    from services.exam import attempts
    from services.timeutil import utcnow
    from tests.exam_util import keys_of
    from wxapp.extensions import exam_tools, face_gate

    now = when or utcnow()
    with app.app_context():
        face_gate().give_consent(db.session, trainee_id, now)
        exam_id = attempts.exams_for(db.session, trainee_id)[0].id
        view, _ = attempts.start_attempt(exam_tools(), trainee_id, exam_id, token, before, now)
    if after is not None:
        with app.app_context():
            for question_id, keys in keys_of(app, view.id).items():
                attempts.save_answer(exam_tools(), trainee_id, view.id, token, question_id, keys, now)
            attempts.submit(exam_tools(), trainee_id, view.id, token, after, now + timedelta(minutes=1))
    return view.id
