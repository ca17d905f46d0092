"""Real-browser fixtures: the app served on loopback, headless Chromium driven by Playwright.

Without Chromium the browser tests are skipped, loudly; with WXAPP_REQUIRE_BROWSER=1 (CI) they
fail instead. The browser reaches nothing but 127.0.0.1: WeChat's authorize page is played by
`wechat_authorize`, which sends the browser back with a code the fake WeChat API will honour.
"""
from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("WXAPP_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE_VIEWPORT = {"width": 375, "height": 667}


def pytest_collection_modifyitems(config, items):
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return
    if os.environ.get("WXAPP_REQUIRE_BROWSER"):
        raise pytest.UsageError(f"Chromium not found at {CHROMIUM}, and WXAPP_REQUIRE_BROWSER is set")
    skip = pytest.mark.skip(reason=f"BROWSER TESTS SKIPPED: no Chromium at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "BROWSER TESTS SKIPPED" in str(r.longrepr)]
    if skipped:
        terminalreporter.write_sep("!", f"{len(skipped)} BROWSER TESTS SKIPPED: Chromium is not installed", red=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_app(make_app, fake_wechat):
    """The app on a real loopback HTTP server; yields (app, origin)."""
    port = _free_port()
    origin = f"http://127.0.0.1:{port}"
    app = make_app(WECHAT_API_BASE=fake_wechat.base_url, PUBLIC_BASE_URL=origin)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, origin
    server.shutdown()


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def wechat_authorize(fake_wechat, openid: str):
    """A route handler that plays WeChat's authorize step for `openid` and blocks other hosts.

    Playwright does not route the hops of a redirect, so a page's redirect *to* WeChat's
    authorize URL is caught on our own response and replaced by WeChat's answer: a redirect
    back to redirect_uri with a fresh code. No request ever leaves 127.0.0.1.
    """

    def handle(route):
        url = urlsplit(route.request.url)
        if url.hostname not in ("127.0.0.1", "localhost"):
            route.abort()
            return
        if not route.request.is_navigation_request():
            route.continue_()
            return
        response = route.fetch(max_redirects=0)
        target = urlsplit(response.headers.get("location", ""))
        if target.hostname == "open.weixin.qq.com" and target.path == "/connect/oauth2/authorize":
            query = {k: v[0] for k, v in parse_qs(target.query).items()}
            back = query["redirect_uri"] + "?" + urlencode({"code": fake_wechat.oauth_code(openid),
                                                            "state": query["state"]})
            headers = {k: v for k, v in response.headers.items() if k.lower() != "location"}
            route.fulfill(status=302, headers={**headers, "location": back})
        else:
            route.fulfill(response=response)

    return handle


@pytest.fixture
def phone(chromium, fake_wechat):
    """Opens a phone-sized page as a WeChat user: `page = phone("oOpenId")`."""
    contexts = []

    def open_as(openid: str, bypass_csp: bool = True):
        # The tests' own probes (wait_for_function with a string) are eval, which the pages' CSP
        # forbids; tests/browser/test_csp_browser.py opens the pages under the real policy.
        context = chromium.new_context(viewport=PHONE_VIEWPORT, device_scale_factor=2, is_mobile=True,
                                       has_touch=True, locale="zh-CN", bypass_csp=bypass_csp,
                                       user_agent="Mozilla/5.0 (iPhone) MicroMessenger/8.0.50 NetType/WIFI")
        context.route("**/*", wechat_authorize(fake_wechat, openid))
        contexts.append(context)
        return context.new_page()

    yield open_as
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
