"""The exam notice's face comparison consent on a phone-sized Chromium, under the pages' real CSP:
the start is held until the trainee consents; a photo of a cat is refused with the retake message;
a face starts the paper."""
from __future__ import annotations

import pytest

pytest.importorskip("dlib", reason="requirements-face.txt")

from tests import factories  # noqa: E402
from tests.browser.conftest import screenshot  # noqa: E402
from tests.browser.test_exam_browser import make_app  # noqa: E402,F401  (the short paper)
from tests.exam_util import bank, full_hours  # noqa: E402
from tests.faces_util import cat, grace_hopper, jpeg  # noqa: E402

pytestmark = pytest.mark.browser

OPENID = "oFaceBrowser000000000000001"


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


@pytest.fixture
def live_app(make_app, fake_wechat, tmp_path):  # noqa: F811
    import socket
    import threading

    from werkzeug.serving import make_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    origin = f"http://127.0.0.1:{port}"
    app = make_app(WECHAT_API_BASE=fake_wechat.base_url, PUBLIC_BASE_URL=origin, FACE_MATCH="on",
                   STORAGE_URL=str(tmp_path / "photos"), SCHOOL_PHONE="0512-66668888")
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield app, origin
    server.shutdown()


def test_the_start_waits_for_consent_then_a_face(live_app, phone, tmp_path):
    app, origin = live_app
    trainee_id = factories.trainee(app, openid=OPENID)
    bank(app, per_kind=5)
    full_hours(app, trainee_id)
    (tmp_path / "cat.jpg").write_bytes(jpeg(cat()))
    (tmp_path / "me.jpg").write_bytes(jpeg(grace_hopper()))
    page = phone(OPENID, bypass_csp=False)

    page.goto(f"{origin}/h5/exam")
    assert "考试须知：人脸比对" in page.locator("#face-consent").inner_text()
    page.click(".exam-start")
    assert page.locator("#exam-photo").is_hidden()
    assert "请先阅读考试须知" in page.locator("#face-consent-msg").inner_text()
    assert page.locator("#face-consent-go").is_disabled()
    page.check("#face-consent-check")
    page.click("#face-consent-go")
    page.wait_for_selector("#face-consent-done:not([hidden])")
    screenshot(page, "faces-1-consent")

    page.click(".exam-start")
    page.wait_for_selector("#exam-photo:not([hidden])")
    page.set_input_files("#photo-input", str(tmp_path / "cat.jpg"))
    page.wait_for_selector("#photo-preview:not([hidden])")
    page.click("#photo-go")
    page.wait_for_selector("#exam-error:not([hidden])")
    assert "未检测到人脸" in page.locator("#exam-error").inner_text()
    screenshot(page, "faces-2-no-face")
    page.set_input_files("#photo-input", str(tmp_path / "me.jpg"))
    page.wait_for_selector("#photo-preview:not([hidden])")
    page.click("#photo-go")
    page.wait_for_selector("#exam-paper:not([hidden])")
