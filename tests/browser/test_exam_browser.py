"""The exam on a phone-sized Chromium (375×667): photo from a file, answers, a reload that keeps
them, a failing paper, a free retake, a pass, and the exam closed after it."""
from __future__ import annotations

import json

import pytest

from models import db
from models.exam import ExamAttempt
from tests import factories
from tests.browser.conftest import screenshot
from tests.exam_util import bank, full_hours, keys_of, photo

pytestmark = pytest.mark.browser

OPENID = "oExamBrowser000000000000001"
# A short paper keeps the test quick: 10 questions, the same rules otherwise (100 points, 60 to pass).
RULES = {"public": {"single": 2, "multi": 1, "judge": 1}, "major": {"single": 3, "multi": 1, "judge": 2},
         "points": {"single": 8, "multi": 15, "judge": 10}, "pass_score": 60, "time_limit_min": 30}


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url  # one backend is enough for the browser; the rules are tested on both


@pytest.fixture
def make_app(make_app, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))

    def factory(**overrides):
        return make_app(EXAM_RULES_FILE=rules, **overrides)

    return factory


def open_attempt_id(app) -> int:
    with app.app_context():
        return db.session.query(ExamAttempt).filter(ExamAttempt.submitted_at.is_(None)).one().id


def take_photo(page, path, button: str) -> None:
    page.set_input_files("#photo-input", str(path))
    page.wait_for_selector("#photo-preview:not([hidden])")
    page.click(button)


def confirm_and_submit(page, path) -> None:
    page.click("#paper-submit")
    page.wait_for_selector("#exam-confirm:not([hidden]) .weui-dialog")
    page.click("#confirm-yes")
    page.wait_for_selector("#exam-photo:not([hidden])")
    take_photo(page, path, "#photo-go")
    page.wait_for_selector("#exam-result:not([hidden])")


def test_trainee_fails_retakes_passes_and_finds_the_exam_closed(live_app, phone, tmp_path):
    app, origin = live_app
    trainee_id = factories.trainee(app, openid=OPENID)
    bank(app, per_kind=5)
    full_hours(app, trainee_id)
    picture = tmp_path / "me.jpg"
    picture.write_bytes(photo(orientation=6))
    page = phone(OPENID)

    page.goto(f"{origin}/h5/exam")
    assert "可参加考试" in page.locator("#exam-cards").inner_text()
    screenshot(page, "exam-1-list")
    page.click(".exam-start")
    page.wait_for_selector("#exam-photo:not([hidden])")
    page.set_input_files("#photo-input", str(picture))
    page.wait_for_selector("#photo-preview:not([hidden])")
    screenshot(page, "exam-2-photo-before")
    page.click("#photo-go")
    page.wait_for_selector("#exam-paper:not([hidden])")
    assert page.locator("#paper-count").inner_text() == "第 1 / 10 题"
    assert page.locator("#paper-time").inner_text().startswith(("29:", "30:"))

    attempt_id = open_attempt_id(app)
    wrong = keys_of(app, attempt_id, right=False)
    for _ in range(3):  # three wrong answers, one per screen
        question_id = int(page.locator("#question-options input").first.get_attribute("name")[1:])
        for key in wrong[question_id]:
            page.click(f"label[for='opt-{question_id}-{key}']")
        page.wait_for_selector("#paper-save:text('答案已保存')")
        page.click("#paper-next")
    screenshot(page, "exam-3-question")
    page.click("#paper-grid-open")
    assert page.locator(".grid-cell_done").count() == 3
    screenshot(page, "exam-4-grid")
    page.click("#paper-grid-close")

    page.reload()  # the answers stay, the paper comes back where it was left
    page.wait_for_selector("#exam-paper:not([hidden])")
    assert page.locator("#paper-count").inner_text() == "第 4 / 10 题"
    assert "已答 3 题" in page.locator("#paper-answered").inner_text()
    page.click("#paper-grid-open")
    page.click(".grid-cell >> nth=0")
    assert page.locator("#question-options input:checked").count() >= 1

    page.click("#paper-submit")
    page.wait_for_selector("#exam-confirm:not([hidden]) .weui-dialog")
    assert "还有 7 题未作答：第 4、5、6、7、8、9、10 题" in page.locator("#confirm-text").inner_text()
    screenshot(page, "exam-5-confirm")
    page.click("#confirm-yes")
    take_photo(page, picture, "#photo-go")
    page.wait_for_selector("#exam-result:not([hidden])")
    assert page.locator("#result-title").inner_text() == "不合格"
    assert "得分 0 分" in page.locator("#result-score").inner_text()
    assert page.locator("#result-certificate").is_hidden()
    screenshot(page, "exam-6-failed")

    page.click("#result-retake")  # free retake: a new photo, a new paper
    take_photo(page, picture, "#photo-go")
    page.wait_for_selector("#exam-paper:not([hidden])")
    second = open_attempt_id(app)
    assert second != attempt_id
    right = keys_of(app, second)
    for index in range(10):
        question_id = int(page.locator("#question-options input").first.get_attribute("name")[1:])
        for key in right[question_id]:
            page.click(f"label[for='opt-{question_id}-{key}']")
        page.wait_for_selector("#paper-save:text('答案已保存')")
        if index < 9:
            page.click("#paper-next")
    confirm_and_submit(page, picture)
    assert page.locator("#result-title").inner_text() == "合格"
    assert "得分 100 分" in page.locator("#result-score").inner_text()
    assert page.locator("#result-retake").is_hidden()
    assert page.locator("#result-certificate").is_visible()  # the pass leads straight to the 学时证明
    assert page.locator("#result-certificate").get_attribute("href") == "/h5/certificates"
    screenshot(page, "exam-7-passed")

    page.goto(f"{origin}/h5/exam")
    card = page.locator("#exam-cards").inner_text()
    assert "已合格（100分），本专业考试已结束" in card and page.locator(".exam-start").count() == 0
    screenshot(page, "exam-8-closed")


def test_a_phone_camera_photo_leaves_the_phone_upright_at_the_stored_size(live_app, phone, tmp_path):
    """A 12 MP photo over 5 MB, lying on its side with EXIF orientation 6 (as phones save them): the page
    sends it at most 1280 px and upright, so it is taken instead of refused as too large, and uploads
    a fraction of the bytes."""
    import io

    from PIL import Image

    from services.exam import attempts
    from wxapp.extensions import exam_tools

    app, origin = live_app
    trainee_id = factories.trainee(app, openid=OPENID)
    bank(app, per_kind=5)
    full_hours(app, trainee_id)
    noise = Image.effect_noise((4000, 3000), 64)
    camera = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to show upright: the upright photo is portrait, 3000 × 4000
    Image.merge("RGB", (noise, noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise)).save(
        camera, "JPEG", quality=95, exif=exif)
    picture = tmp_path / "camera.jpg"
    picture.write_bytes(camera.getvalue())
    assert picture.stat().st_size > 5 * 1024 * 1024
    page = phone(OPENID)

    page.goto(f"{origin}/h5/exam")
    page.click(".exam-start")
    page.wait_for_selector("#exam-photo:not([hidden])")
    page.set_input_files("#photo-input", str(picture))
    page.wait_for_selector("#photo-preview:not([hidden])")
    with page.expect_request(lambda r: r.method == "POST" and "/attempts" in r.url) as sent:
        page.click("#photo-go")
    page.wait_for_selector("#exam-paper:not([hidden])")
    assert len(sent.value.post_data_buffer) < 1024 * 1024

    with app.app_context():
        stored = attempts.photo(exam_tools(), trainee_id, open_attempt_id(app), "before")
    image = Image.open(io.BytesIO(stored))
    assert image.size == (960, 1280)  # portrait: the browser turned it by its EXIF before shrinking
