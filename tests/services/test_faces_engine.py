"""dlib on real photos shipped in packages: the same person under what phones do matches, two
people don't, a cat or a wall has no face, two people are two; only the 5-point predictor and the
ResNet are loaded; embeddings at rest are encrypted and bound to their row."""
from __future__ import annotations

import pytest

pytest.importorskip("dlib", reason="requirements-face.txt")

from services.exam import ExamError, photos  # noqa: E402
from services.exam.faces.engine import MANY_FACES, NO_FACE, FaceEngine, distance  # noqa: E402
from services.exam.faces.vault import FaceVault  # noqa: E402
from tests.faces_util import astronaut, cat, grace_hopper, jpeg, two_people, variants, wall  # noqa: E402

THRESHOLD = 0.6


@pytest.fixture(scope="module")
def engine():
    return FaceEngine()


def embedding(engine, data: bytes):
    found = engine.embed(photos.prepare(data))
    assert found.state == "ok", found.state
    return found.vector


@pytest.mark.parametrize("person", [grace_hopper, astronaut])
def test_the_same_person_matches_under_crop_tilt_recompression_and_light(engine, person):
    original = embedding(engine, jpeg(person()))
    for name, data in variants(person()).items():
        assert distance(original, embedding(engine, data)) < THRESHOLD, name


def test_two_different_people_do_not_match(engine):
    assert distance(embedding(engine, jpeg(grace_hopper())), embedding(engine, jpeg(astronaut()))) > THRESHOLD


@pytest.mark.parametrize("picture", [cat, wall])
def test_a_cat_or_a_blank_wall_has_no_face(engine, picture):
    data = photos.prepare(jpeg(picture()))
    assert engine.count(data) == 0
    assert engine.embed(data).state == "no_face"
    with pytest.raises(ExamError) as refused:
        engine.check_upload(data)
    assert refused.value.message == NO_FACE and refused.value.status == 400


def test_two_people_in_one_photo_are_two_faces(engine):
    data = photos.prepare(jpeg(two_people()))
    assert engine.count(data) == 2
    with pytest.raises(ExamError) as refused:
        engine.check_upload(data)
    assert refused.value.message == MANY_FACES == "照片中有多人，请本人正对镜头重拍"


@pytest.mark.parametrize("picture", [grace_hopper, astronaut])
def test_one_face_passes_the_upload_check(engine, picture):
    engine.check_upload(photos.prepare(jpeg(picture())))


@pytest.mark.parametrize("picture", [grace_hopper, astronaut, two_people, cat])
def test_the_upload_check_reads_the_picture_just_decoded_as_it_would_the_stored_jpeg(engine, picture):
    """A start checks the picture photos.prepare_photo decoded (no second decode): same answer."""
    prepared = photos.prepare_photo(jpeg(picture()))
    assert prepared.image.size == photos.Image.open(__import__("io").BytesIO(prepared.jpeg)).size
    assert engine.count(prepared.image) == engine.count(prepared.jpeg)


def test_a_phone_camera_photo_taken_from_farther_away_still_shows_its_face(engine):
    """A 12 MP photo of a sitter a fifth of its width, the face about 6 % of its height: found (a
    smaller detection copy, 480 px, lost it: DETECT_SIDE is not lowered to save CPU)."""
    from PIL import Image

    canvas = Image.new("RGB", (3000, 4000), (128, 128, 120))
    face = grace_hopper()
    face.thumbnail((600, 600))
    canvas.paste(face, (1200, 1500))
    prepared = photos.prepare_photo(jpeg(canvas, quality=90))
    assert engine.count(prepared.image) == 1
    engine.check_upload(prepared.image)


def test_only_the_five_point_predictor_and_the_resnet_are_loaded(monkeypatch):
    import dlib

    from services.exam.faces import engine as engine_module

    monkeypatch.setattr(engine_module, "_models", {})  # loaded again, as in a new process
    opened = []
    real_shape, real_encoder = dlib.shape_predictor, dlib.face_recognition_model_v1
    monkeypatch.setattr(dlib, "shape_predictor", lambda path: opened.append(path) or real_shape(path))
    monkeypatch.setattr(dlib, "face_recognition_model_v1", lambda path: opened.append(path) or real_encoder(path))
    FaceEngine().embed(photos.prepare(jpeg(grace_hopper())))
    assert [p.rsplit("/", 1)[1] for p in opened] == ["shape_predictor_5_face_landmarks.dat",
                                                     "dlib_face_recognition_resnet_model_v1.dat"]
    assert not any("68" in p for p in opened)


def test_embeddings_are_encrypted_and_bound_to_their_attempt_and_moment(engine):
    vector = embedding(engine, jpeg(grace_hopper()))
    vault = FaceVault("k" * 40)
    sealed = vault.seal(vector, 7, "before")
    assert vector.astype("<f4").tobytes() not in sealed and len(sealed) == 12 + 512 + 16
    assert (vault.open(sealed, 7, "before") == vector).all()
    for attempt_id, moment in ((8, "before"), (7, "after")):
        with pytest.raises(Exception):  # noqa: B017  (cryptography's InvalidTag)
            vault.open(sealed, attempt_id, moment)
    with pytest.raises(Exception):  # noqa: B017
        FaceVault("j" * 40).open(sealed, 7, "before")
