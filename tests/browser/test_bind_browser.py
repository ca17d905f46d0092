"""A trainee binds on a phone-sized Chromium: a wrong ID card first, then the right one."""
from __future__ import annotations

import pytest

from tests import factories
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

OPENID = "oBrowserUser000000000000001"


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url  # one backend is enough for the browser; the rules are tested on both


@pytest.fixture
def make_app(make_app):
    def factory(**overrides):
        return make_app(**{"SCHOOL_PHONE": "0512-6888 8888", **overrides})
    return factory


def test_bind_wrong_id_then_right_id_lands_on_portal(live_app, phone):
    app, origin = live_app
    factories.trainee(app, phone="13912340001", id_card="320505198001010017")
    page = phone(OPENID)

    page.goto(f"{origin}/h5/bind")  # no session: WeChat's authorize step, then back
    assert page.url == f"{origin}/h5/bind"
    assert page.get_by_role("button", name="认证登录").is_visible()
    screenshot(page, "bind-1-form")

    page.fill("#phone", "13912340001")
    page.fill("#id_card", "11010519491231002X")  # a valid number, not this trainee's
    page.click("#bind-submit")
    error = page.locator("#error-form")
    assert "请核对两个号码" in error.inner_text()
    assert error.locator("a.tel").get_attribute("href") == "tel:051268888888"  # one tap calls the school
    assert page.input_value("#phone") == "13912340001"  # what was typed is kept
    assert page.input_value("#id_card") == ""  # never the ID card: only its mask, as a hint
    assert "1101**********002X" in page.locator("#hint-id_card").inner_text()
    screenshot(page, "bind-2-wrong-id")

    page.fill("#id_card", "320505198001010017")
    page.click("#bind-submit")
    page.wait_for_url(f"{origin}/h5/learn")
    assert "周一，您好" in page.locator("#trainee-name").inner_text()
    assert page.locator("text=专业课·建筑工程").count() >= 1
    screenshot(page, "bind-3-portal")
