"""Face comparison at the exam's door (CONTRACT §7): the exam notice asks separate consent, no
consent no start (with the school's phone); a photo with no face or two faces is refused at start
and at submit and nothing is stored; without the package or with FACE_MATCH=off none of it applies."""
from __future__ import annotations

import pytest

pytest.importorskip("dlib", reason="requirements-face.txt")

from models import db  # noqa: E402
from models.exam import ExamAttempt  # noqa: E402
from models.faces import FaceConsent  # noqa: E402
from services.exam import faces  # noqa: E402
from tests import factories  # noqa: E402
from tests.exam_util import bank, full_hours, keys_of, photo  # noqa: E402
from tests.faces_util import astronaut, cat, grace_hopper, jpeg, two_people, wall  # noqa: E402
from tests.h5.test_exam_api import OPENID, Browser, exam_id  # noqa: E402

PHONE = "0512-66668888"


@pytest.fixture
def app(make_app, fake_wechat, tmp_path):
    return make_app(WECHAT_API_BASE=fake_wechat.base_url, STORAGE_URL=str(tmp_path / "photos"), FACE_MATCH="on",
                    SCHOOL_PHONE=PHONE)


@pytest.fixture
def trainee(app):
    trainee_id = factories.trainee(app, openid=OPENID)
    bank(app)
    full_hours(app, trainee_id)
    return trainee_id


@pytest.fixture
def browser(app, fake_wechat, trainee):
    return Browser(app, fake_wechat, OPENID)


def stored(app, tmp_path) -> tuple[int, list]:
    with app.app_context():
        count = db.session.query(ExamAttempt).count()
    return count, [p for p in (tmp_path / "photos").rglob("*") if p.is_file()]


def test_the_exam_notice_asks_separate_consent_and_names_what_is_compared_and_how_long(browser):
    page = browser.get("/h5/exam").get_data(as_text=True)
    assert "考试须知：人脸比对" in page and 'data-consented="no"' in page
    assert "考前、交卷时拍摄的照片" in page and "其他学员的考试照片" in page and "保存 365 天后删除" in page
    assert "单独同意" in page and PHONE in page and "face_consent.js" in page
    state = browser.get("/api/exams/face-consent").json
    assert state["required"] is True and state["consented"] is False and any("365 天" in p for p in state["text"])


def test_no_consent_no_start_and_the_refusal_gives_the_schools_phone(app, browser, tmp_path):
    r = browser.start(exam_id(browser), jpeg(grace_hopper()))
    assert r.status_code == 403 and "同意人脸比对" in r.json["error"] and PHONE in r.json["error"]
    assert stored(app, tmp_path) == (0, [])


def test_consent_is_recorded_once_and_then_the_start_takes_a_face(app, browser, trainee):
    for _ in range(2):
        r = browser.client.post("/api/exams/face-consent", headers={"X-CSRFToken": browser.token})
        assert r.status_code == 200 and r.json == {"required": True, "consented": True}
    with app.app_context():
        assert db.session.query(FaceConsent).filter_by(trainee_id=trainee).count() == 1
    assert 'data-consented="yes"' in browser.get("/h5/exam").get_data(as_text=True)
    assert browser.start(exam_id(browser), jpeg(grace_hopper())).status_code == 201


def test_consent_without_the_pages_csrf_token_is_refused(browser):
    assert browser.client.post("/api/exams/face-consent").status_code == 400
    assert browser.get("/api/exams/face-consent").json["consented"] is False


@pytest.mark.parametrize("picture, error", [(cat, "未检测到人脸"), (wall, "未检测到人脸"),
                                            (two_people, "照片中有多人，请本人正对镜头重拍")])
def test_a_start_photo_without_one_face_is_refused_and_nothing_is_stored(app, browser, tmp_path, picture, error):
    r = browser.start(exam_id(browser), jpeg(picture()), face_consent="1")
    assert r.status_code == 400 and r.json["error"].startswith(error)
    assert stored(app, tmp_path) == (0, [])
    assert browser.start(exam_id(browser), jpeg(astronaut())).status_code == 201  # retaken at once; consent kept


def test_a_submit_photo_without_one_face_is_refused_and_the_attempt_stays_open(app, browser, tmp_path):
    attempt = browser.start(exam_id(browser), jpeg(grace_hopper()), face_consent="1").json
    for question_id, keys in keys_of(app, attempt["id"]).items():
        browser.answer(attempt["id"], question_id, keys)
    for picture, error in ((cat, "未检测到人脸"), (two_people, "照片中有多人")):
        r = browser.submit(attempt["id"], jpeg(picture()))
        assert r.status_code == 400 and r.json["error"].startswith(error)
    count, files = stored(app, tmp_path)
    assert count == 1 and len(files) == 1 and "before-" in files[0].name
    r = browser.submit(attempt["id"], jpeg(grace_hopper().rotate(5)))
    assert r.status_code == 200 and r.json["passed"] is True


@pytest.mark.parametrize("how", ["not installed", "FACE_MATCH=off"])
def test_without_the_package_or_switched_off_exams_start_as_before(make_app, fake_wechat, tmp_path, monkeypatch, how):
    if how == "not installed":
        monkeypatch.setattr(faces, "installed", lambda: False)
    app = make_app(WECHAT_API_BASE=fake_wechat.base_url, STORAGE_URL=str(tmp_path / "photos"),
                   FACE_MATCH="on" if how == "not installed" else "off")
    trainee_id = factories.trainee(app, openid=OPENID)
    bank(app)
    full_hours(app, trainee_id)
    browser = Browser(app, fake_wechat, OPENID)
    page = browser.get("/h5/exam").get_data(as_text=True)
    assert "考试须知：人脸比对" not in page and "face_consent.js" not in page
    assert browser.start(exam_id(browser), photo()).status_code == 201  # no face, no consent: as before
    assert app.extensions["face_gate"].settings.status_text.startswith("人脸比对未启用")
