"""A newcomer's whole journey in the phone simulator (/dev/phone), at phone size: follow the account,
在线学习, bind, watch the demo lesson, pass each attendance check by scanning the QR shown in the
phone, and see 我的课程 change; a class-open notice sent meanwhile appears in the chat.

Nothing is faked: the simulator posts signed callbacks to the real /wechat, pages open through
the sandbox's OAuth (the app's own /dev/api answers the code exchange), the QR is decoded by the
page's jsQR from the pixels the player shows, and the video is the demo's own file.
"""
from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS, PHONE_VIEWPORT, screenshot

pytestmark = pytest.mark.browser

ZHANG = "oDevPhone1380013800100000000"  # services.demo's 张三, as the simulator names him
VIDEO = "document.getElementById('video')"


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


@pytest.fixture
def make_app(make_app):
    """WeChat's API is the app's own sandbox; checks after 6 s of playing; heartbeats every second."""
    def factory(**overrides):
        base = overrides.get("PUBLIC_BASE_URL", "http://127.0.0.1:9")
        return make_app(**{**overrides, "WECHAT_API_BASE": base + "/dev/api/", "WECHAT_TEMPLATE_CLASS_OPEN": "tmpl-open",
                           "ATTENDANCE_INTERVAL_MIN_S": 6, "ATTENDANCE_INTERVAL_MAX_S": 6, "ATTENDANCE_TTL_S": 120,
                           "PLAY_HEARTBEAT_S": 1, "OUTBOX_RATE_PER_S": 0})
    return factory


@pytest.fixture
def page(chromium, live_app):
    # The test's own string predicates are eval'd inside the framed pages, which CSP forbids; the
    # pages under their real policy are driven by tests/browser/test_csp_browser.py.
    context = chromium.new_context(viewport=PHONE_VIEWPORT, device_scale_factor=2, locale="zh-CN", bypass_csp=True)
    context.route("**/*", lambda route: route.continue_() if "127.0.0.1" in route.request.url else route.abort())
    yield context.new_page()
    context.close()


def last_reply(page) -> str:
    return page.locator(".msg_in").last.inner_text()


def wait_reply(page, words: str) -> None:
    page.wait_for_function("w => { const m = document.querySelectorAll('.msg_in');"
                           " return m.length && m[m.length - 1].innerText.includes(w); }", arg=words, timeout=10000)


def shot(page, name: str) -> None:
    screenshot(page, f"phone-{name}")


def web(page):
    return page.locator("#web").element_handle().content_frame()


def scan_and_confirm(page, number: int) -> None:
    page.click("#scan")
    page.wait_for_selector("#scan-view:not([hidden])")
    scanned = page.locator("#scanned").element_handle().content_frame()
    try:
        scanned.wait_for_selector("#attend-confirm")
    except Exception as exc:
        # What the scanned page showed instead (a CI run once timed out here): kept for the next look.
        shot(page, f"5-scan-failed-{number}")
        raise AssertionError(f"no confirm button at {scanned.url}: {scanned.locator('body').inner_text()[:300]!r}") from exc
    assert "张三" in scanned.locator("#attend-name").inner_text()
    shot(page, f"5-scanned-{number}")
    scanned.click("#attend-confirm")
    assert "验证成功" in scanned.locator("#attend-message").inner_text()
    page.click("#scan-close")


def test_a_newcomer_follows_binds_studies_scans_and_sees_my_courses_change(live_app, page):
    app, origin = live_app
    assert app.test_cli_runner().invoke(args=["demo", "load"]).exit_code == 0
    page.goto(f"{origin}/dev/phone")
    page.select_option("#persona", ZHANG)
    assert "13800138001" in page.locator("#persona-facts").inner_text()
    shot(page, "1-profile")

    page.click("#follow")  # 关注公众号
    wait_reply(page, "欢迎关注")
    page.click(".menubar__item:has-text('在线学习')")
    wait_reply(page, "认证登录")
    shot(page, "2-chat")
    page.locator(".msg_in").last.locator("a:has-text('认证登录')").click()
    page.wait_for_selector("#web-view:not([hidden])")
    bind = web(page)
    bind.wait_for_selector("#bind-form")
    bind.fill("#phone", "13800138001")
    bind.fill("#id_card", "320508198503150019")
    shot(page, "3-bind")
    bind.click("#bind-submit")
    bind.wait_for_selector("#trainee-name")
    portal = web(page)
    assert "张三" in portal.locator("#trainee-name").inner_text()
    page.click("#web-close")

    page.click(".menubar__item:has-text('我的学习')")  # a sub-menu, drawn above its button
    page.wait_for_selector("#submenu:not([hidden])")
    shot(page, "4-submenu")
    page.click("#submenu button:has-text('我的课程')")
    wait_reply(page, "已修 0 / 16 学时")

    assert app.test_cli_runner().invoke(args=["notify", "class-open", "DEMO-JZ"]).exit_code == 0
    page.wait_for_selector(".card_template:has-text('开班通知')", timeout=10000)  # the template message

    page.locator(".msg_in a:has-text('进入在线学习')").last.click()
    web(page).click("#continue")  # 继续学习：第1讲 …
    player = web(page)
    player.wait_for_function(f"{VIDEO} && {VIDEO}.readyState >= 1")  # once the player page is in
    player.click("#hours-state")
    player.evaluate(f"{VIDEO}.play()")
    for number in range(1, 8):
        player.wait_for_function("!document.getElementById('check').hidden", timeout=30000)
        player.wait_for_function("document.getElementById('check-qr').naturalWidth > 0")
        ended = player.evaluate(f"{VIDEO}.ended")
        if number == 1:
            shot(page, "4-check")
        scan_and_confirm(page, number)
        if ended:
            break
        player.wait_for_function(f"document.getElementById('check').hidden && !{VIDEO}.paused", timeout=10000)
    player.wait_for_function("document.getElementById('hours-state').textContent === '已获得'", timeout=10000)
    assert player.locator("#next-lesson").is_visible()  # the end of the lesson offers 下一讲
    shot(page, "6-earned")
    page.click("#web-close")

    page.click(".menubar__item:has-text('我的学习')")
    page.click("#submenu button:has-text('我的课程')")
    wait_reply(page, "已修 6 / 16 学时")
    shot(page, "7-my-courses")
    assert (ARTIFACTS / "phone-7-my-courses.png").exists()


def test_a_stranger_gets_the_help_text_and_cannot_bind(live_app, page):
    app, origin = live_app
    page.goto(f"{origin}/dev/phone")
    page.select_option("#persona", "oDevPhoneStranger00000000001")
    page.click("#to-keyboard")
    page.fill("#text", "你好")
    page.click("#send")
    wait_reply(page, "没有看懂")
    assert page.locator(".msg_out").last.inner_text().strip().endswith("你好")
    shot(page, "8-stranger")


def test_a_persona_that_never_chatted_sees_follow_first(live_app, page):
    app, origin = live_app
    page.goto(f"{origin}/dev/phone")
    page.select_option("#persona", ZHANG)
    page.click("#follow")
    wait_reply(page, "欢迎关注")
    assert page.locator("#follow").is_hidden()  # a chat shows instead of the account's profile
    page.select_option("#persona", "oDevPhoneStranger00000000001")  # never chatted
    assert page.locator("#follow").is_visible() and page.locator(".msg").count() == 0
    shot(page, "9-never-chatted")
    page.select_option("#persona", ZHANG)
    assert page.locator("#follow").is_hidden() and "欢迎关注" in last_reply(page)


def test_scan_reads_the_certificates_inline_svg_qr_and_opens_the_verification(live_app, page):
    from tests import factories
    from tests.completion_util import complete

    app, origin = live_app
    owner = factories.trainee(app, name="张三", openid=ZHANG)
    number = complete(app, owner)
    page.goto(f"{origin}/dev/phone")
    page.select_option("#persona", ZHANG)
    page.evaluate("url => { document.getElementById('web').src = url;"
                  " document.getElementById('web-view').hidden = false; }",
                  f"/dev/oauth?openid={ZHANG}&next=/h5/certificates/{number}")
    certificate = web(page)
    certificate.wait_for_selector("svg")
    assert certificate.locator("img").count() == 0  # the QR is an inline SVG, no image
    page.click("#scan")
    page.wait_for_selector("#scan-view:not([hidden])")
    scanned = page.locator("#scanned").element_handle().content_frame()
    scanned.wait_for_function(f"location.pathname === '/verify/{number}'")
    scanned.wait_for_selector("text=学时证明真实有效")
    shot(page, "10-scanned-certificate")
