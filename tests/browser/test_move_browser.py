"""更换绑定的微信 in the phone simulator at 375×667: 张三 is bound on his old WeChat; on his new one
(the simulator's second 张三 persona, same phone) 认证登录 offers the move, the SMS code drops down
over the page as a phone shows a text (the SMS template's full wording), and the code moves the
binding: the new WeChat opens the portal, the old one is sent back to 认证登录."""
from __future__ import annotations

import re

import pytest

from models import WechatUser, db
from services.demo import DEMO_TRAINEES
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

OLD = "oDevPhone1380013800100000000"  # the simulator's 张三
NEW = "oDevPhone13800138001NewWx000"  # the simulator's 张三（换了新微信）


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


@pytest.fixture
def make_app(make_app):
    """WeChat's API is the app's own sandbox; texts are recorded there (SMS_BACKEND=console)."""
    def factory(**overrides):
        base = overrides.get("PUBLIC_BASE_URL", "http://127.0.0.1:9")
        return make_app(**{**overrides, "WECHAT_API_BASE": base + "/dev/api/", "OUTBOX_RATE_PER_S": 0})
    return factory


@pytest.fixture
def page(chromium, live_app):
    # As in test_phone_simulator: the framed pages are driven by the test's own predicates.
    context = chromium.new_context(viewport={"width": 375, "height": 667}, device_scale_factor=2, locale="zh-CN",
                                   bypass_csp=True)
    context.route("**/*", lambda route: route.continue_() if "127.0.0.1" in route.request.url else route.abort())
    yield context.new_page()
    context.close()


def web(page):
    return page.locator("#web").element_handle().content_frame()


def open_bind(page) -> None:
    page.click("#follow")
    page.wait_for_function("() => [...document.querySelectorAll('.msg_in')].some(m => m.innerText.includes('欢迎'))",
                           timeout=10000)
    page.click(".menubar__item:has-text('在线学习')")
    page.wait_for_function("() => { const m = document.querySelectorAll('.msg_in');"
                           " return m.length && m[m.length - 1].innerText.includes('认证登录'); }", timeout=10000)
    page.locator(".msg_in").last.locator("a:has-text('认证登录')").click()
    page.wait_for_selector("#web-view:not([hidden])")
    web(page).wait_for_selector("#bind-form")


def test_a_trainee_moves_to_a_new_wechat_with_the_sms_code(live_app, page):
    app, origin = live_app
    assert app.test_cli_runner().invoke(args=["demo", "load"]).exit_code == 0
    zhang = DEMO_TRAINEES[0]
    with app.app_context():
        from models import Trainee

        trainee_id = db.session.query(Trainee.id).filter_by(phone=zhang.phone).scalar()
        db.session.add(WechatUser(openid=OLD, subscribed=True, trainee_id=trainee_id))
        db.session.commit()

    page.goto(f"{origin}/dev/phone")
    page.select_option("#persona", NEW)
    open_bind(page)
    bind = web(page)
    bind.fill("#phone", zhang.phone)
    bind.fill("#id_card", zhang.id_card)
    bind.click("#bind-submit")
    bind = web(page)
    bind.wait_for_selector("#move-offer")
    assert "该学员已绑定其他微信" in bind.locator("#error-form").inner_text()
    assert "138****8001" in bind.locator("#move-phone").inner_text()
    screenshot(page, "move-1-offer")

    bind.click("#move-start")
    form = web(page)
    form.wait_for_selector("#move-sent")
    page.wait_for_selector("#sms-banner:not([hidden])", timeout=10000)
    text = page.locator("#sms-banner").inner_text()
    assert "您正在更换继续教育公众号绑定的微信" in text and "5分钟内有效" in text  # the template's wording
    screenshot(page, "move-2-sms")
    code = re.search(r"验证码(\d{6})", text).group(1)
    assert page.locator("#web-view").is_visible()  # the text dropped down over the open page

    form.fill("#code", code)
    form.click("#move-submit")
    web(page).wait_for_selector("#trainee-name")
    assert "张三" in web(page).locator("#trainee-name").inner_text()
    screenshot(page, "move-3-portal")
    with app.app_context():
        assert db.session.query(WechatUser.trainee_id).filter_by(openid=NEW).scalar() == trainee_id
        assert db.session.query(WechatUser.trainee_id).filter_by(openid=OLD).scalar() is None
