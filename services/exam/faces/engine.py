"""dlib behind three calls: `faces` (detection), `check_upload` (the upload's one-face rule) and
`embed` (the 128 numbers of the photo's face).

Detection runs on a grey copy at most DETECT_SIDE px on its longer side, without upsampling: dlib's
HOG detector then finds faces from about 80 px wide, which a photo taken at arm's length always
has, at a fraction of a full photo's cost; only when it finds none does it look again at twice
the size (faces from about 40 px), before telling the trainee to retake. The embedding takes the
face found there from the stored photo itself (≤ 1280 px): landmarks by the 5-point predictor,
a 150 px aligned chip, the ResNet. Only the 5-point predictor and the ResNet are loaded, never the 68-point predictor.

dlib's detector and networks keep working buffers (dlib: "concurrent access … is not safe"): one
lock serialises their use inside a process. Building the detector costs about a second of CPU, so
a web worker builds it in the background at start (`warm`), not in a trainee's first upload.
"""
from __future__ import annotations

import importlib.util
import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from services.exam import ExamError

DETECT_SIDE = 640
# A detection scored below this is not a face (dlib's own default cut-off).
MIN_SCORE = 0.0
# A second face counts only when clearly one: a weak detection beside a sure face is most often a
# pattern on clothes or a poster (0.38 on a crop of scikit-image's astronaut's suit), and a refused
# upload sends an honest trainee to retake. A face narrower than MIN_SHARE of the largest one is a
# passer-by in the background, not a sitter.
SECOND_FACE_SCORE = 0.5
MIN_SHARE = 0.4
SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
ENCODER_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
NO_FACE = "未检测到人脸，请在光线充足处本人正对镜头重拍，不要遮挡面部。"
MANY_FACES = "照片中有多人，请本人正对镜头重拍"
VECTOR_SIZE = 128


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int
    score: float

    @property
    def width(self) -> int:
        return self.right - self.left


@dataclass(frozen=True)
class Embedding:
    state: str  # ok, no_face, many_faces, unreadable (models.faces.FACE_STATES)
    vector: np.ndarray | None  # 128 float32 (the surest face's, also when there are several)


def models_dir() -> Path:
    """The weights inside the installed `face_recognition_models` (found without importing it:
    its `__init__` needs pkg_resources, which new setuptools no longer ship)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face_recognition_models is not installed (requirements-face.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def _decode(jpeg: bytes, side: int) -> Image.Image:
    """The photo upright in RGB, at most `side` px (a JPEG decodes straight at 1/2, 1/4… of its size)."""
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            image.draft("RGB", (side, side))
            image.load()
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ExamError("无法识别这张照片，请重新拍摄（JPEG 或 PNG 格式）。") from None
    upright.thumbnail((side, side))
    return upright


def _detection_copy(image: Image.Image) -> Image.Image:
    """`image` at most DETECT_SIDE px on its longer side, by area averaging (a box filter): for HOG's
    gradients as good as thumbnail()'s bicubic (the same faces, scores within a few %), at 2/5 of its
    CPU (3.5 against 8.6 ms from the stored 1000 px picture)."""
    scale = DETECT_SIDE / max(image.size)
    if scale >= 1:
        return image
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                        Image.Resampling.BOX)


_models: dict[Path, tuple[Any, Any]] = {}
_models_lock = threading.Lock()


def _loaded(folder: Path, dlib: Any) -> tuple[Any, Any]:
    """The 5-point predictor and the ResNet, read from disk once per process (~30 MB, a second or so)."""
    with _models_lock:
        if folder not in _models:
            _models[folder] = (dlib.shape_predictor(str(folder / SHAPE_MODEL)),
                               dlib.face_recognition_model_v1(str(folder / ENCODER_MODEL)))
        return _models[folder]


class FaceEngine:
    """The loaded models of one process (loaded on first use: a web worker needs only the detector)."""

    def __init__(self, folder: Path | None = None):
        self._folder = folder
        self._lock = threading.Lock()
        self._detector: Any = None
        self._shape: Any = None
        self._encoder: Any = None

    def _dlib(self) -> Any:
        import dlib

        return dlib

    def _load_detector(self) -> Any:
        with self._lock:
            if self._detector is None:
                self._detector = self._dlib().get_frontal_face_detector()
        return self._detector

    def _load_encoder(self) -> tuple[Any, Any]:
        with self._lock:
            if self._encoder is None:
                self._shape, self._encoder = _loaded(self._folder or models_dir(), self._dlib())
        return self._shape, self._encoder

    def warm(self) -> threading.Thread:
        """Builds the detector in a background thread (a request that comes first waits for it)."""
        thread = threading.Thread(target=self._load_detector, name="face-detector-warm", daemon=True)
        thread.start()
        return thread

    def faces(self, image: Image.Image) -> list[Box]:
        """The faces on `image` (any size: detection runs on a copy of at most DETECT_SIDE px),
        in `image`'s coordinates, the surest first; weak ones and background passers-by left out."""
        # On grey: HOG on the luminance's gradients costs a quarter less than on the strongest of RGB's
        # (13 against 17 ms for a 960x1280 portrait), with the same faces found in the tests' photos.
        small = _detection_copy(image.convert("L"))
        scale = image.width / small.width
        detector = self._load_detector()
        pixels = np.asarray(small)
        with self._lock:
            rects, scores, _ = detector.run(pixels, 0, MIN_SCORE)
            if not rects:  # a face under ~80 px (a photo taken from farther away): once more at twice the size
                rects, scores, _ = detector.run(pixels, 1, MIN_SCORE)
        boxes = [Box(round(r.left() * scale), round(r.top() * scale), round(r.right() * scale),
                     round(r.bottom() * scale), float(s)) for r, s in zip(rects, scores, strict=True)]
        if not boxes:
            return []
        main = max(boxes, key=lambda b: b.score)
        return [main] + [b for b in boxes if b is not main and b.score >= SECOND_FACE_SCORE
                         and b.width >= MIN_SHARE * main.width]

    def count(self, photo: bytes | Image.Image) -> int:
        """Faces on a stored JPEG, or on the upright picture it was encoded from (no second decode)."""
        image = photo if isinstance(photo, Image.Image) else _decode(photo, DETECT_SIDE)
        return len(self.faces(image))

    def check_upload(self, photo: bytes | Image.Image) -> None:
        """The upload rule: exactly one face, else ExamError(400) telling the trainee to retake."""
        found = self.count(photo)
        if found == 0:
            raise ExamError(NO_FACE)
        if found > 1:
            raise ExamError(MANY_FACES)

    def embed(self, jpeg: bytes, side: int = 1280) -> Embedding:
        """The embedding of the photo's face (the surest, if several), for the background."""
        try:
            image = _decode(jpeg, side)
        except ExamError:
            return Embedding("unreadable", None)
        boxes = self.faces(image)
        if not boxes:
            return Embedding("no_face", None)
        shape_model, encoder = self._load_encoder()
        dlib = self._dlib()
        pixels = np.asarray(image)
        box = boxes[0]
        with self._lock:
            shape = shape_model(pixels, dlib.rectangle(box.left, box.top, box.right, box.bottom))
            vector = np.asarray(encoder.compute_face_descriptor(pixels, shape), dtype=np.float32)
        return Embedding("ok" if len(boxes) == 1 else "many_faces", vector)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two embeddings: below the threshold (0.6), the same person."""
    return float(np.linalg.norm(a.astype(np.float32) - b.astype(np.float32)))
