"""On a phone-sized Chromium: the portal links a completed major to its certificate, the certificate
page reads at 375 px, and a stranger's phone opens the verification page the QR code holds."""
from __future__ import annotations

import pytest

from tests import factories
from tests.browser.conftest import screenshot
from tests.completion_util import cancel, complete

pytestmark = pytest.mark.browser

OPENID = "oBrowserCert000000000000001"


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url  # one backend is enough for the browser; the rules are tested on both


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_trainee_opens_certificate_from_portal_and_stranger_verifies_it(live_app, phone, chromium):
    app, origin = live_app
    trainee = factories.trainee(app, name="欧阳小明", openid=OPENID,
                                majors=(("建筑工程", "main"), ("市政公用工程", "added")))
    number = complete(app, trainee, score=92)
    page = phone(OPENID)

    page.goto(f"{origin}/h5/learn")
    page.locator("#completed-majors").scroll_into_view_if_needed()
    screenshot(page, "certificate-0-portal")
    page.locator("#completed-majors a", has_text="建筑工程").click()
    page.wait_for_url(f"{origin}/h5/certificates/{number}")
    assert page.locator("#cert-name").inner_text() == "欧阳小明"
    assert page.locator("#cert-id").inner_text() == "3205**********0017"
    assert page.locator("#cert-number").inner_text() == number
    assert page.locator("#download-pdf").is_visible() and page.locator(".qr svg").is_visible()
    assert fits_the_screen(page)
    screenshot(page, "certificate-1-page")

    page.goto(f"{origin}/h5/certificates")
    assert page.locator("#certificates", has_text=number).is_visible()
    screenshot(page, "certificate-2-list")

    stranger = chromium.new_context(viewport={"width": 375, "height": 667}, device_scale_factor=2, is_mobile=True,
                                    locale="zh-CN")
    try:
        public = stranger.new_page()
        public.goto(f"{origin}/verify/{number}")  # no session, no WeChat
        assert public.locator("#verdict").inner_text() == "学时证明真实有效"
        assert public.locator("#v-name").inner_text() == "欧***"
        assert "60 学时" in public.locator("#v-hours").inner_text()
        assert fits_the_screen(public)
        screenshot(public, "certificate-3-verify")
        response = public.goto(f"{origin}/verify/ABCDEFGHJKMN")
        assert response.status == 404 and public.locator("#verdict").inner_text() == "查无此学时证明"
        screenshot(public, "certificate-4-verify-unknown")
    finally:
        stranger.close()


def test_cancelled_certificate_is_stamped_on_the_phone_and_verify_says_so(live_app, phone):
    app, origin = live_app
    trainee = factories.trainee(app, name="张三", openid=OPENID)
    number = complete(app, trainee, attempt_id=11)
    cancel(app, 11)
    page = phone(OPENID)
    page.goto(f"{origin}/h5/certificates/{number}")
    assert page.locator("#void-stamp").is_visible() and "作废" in page.locator("#void-note").inner_text()
    assert fits_the_screen(page)
    screenshot(page, "certificate-5-cancelled")
    page.goto(f"{origin}/verify/{number}")
    assert page.locator("#verdict").inner_text() == "此学时证明已作废"
    assert page.locator("#v-name").inner_text() == "张*"
    screenshot(page, "certificate-6-verify-cancelled")
