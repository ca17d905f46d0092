"""The JS-SDK for the exam's camera: wx.config's signature (WeChat's published example), the
jsapi_ticket fetched through WECHAT_API_BASE once and shared in Redis, photos via media/get."""
from __future__ import annotations

import pytest

from services import keys
from services.wechat_api import WeChatApi, WeChatApiError
from tests.conftest import TEST_APPID
from wxapp import config

# WeChat's published example (JS-SDK documentation, 附录1), as STACK.md quotes it.
TICKET = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"


def api(app, fake_wechat) -> WeChatApi:
    return WeChatApi(TEST_APPID, "test-secret", fake_wechat.base_url, app.extensions["redis"], timeout=2)


def test_signature_matches_wechats_published_example(app, fake_wechat):
    signature = api(app, fake_wechat).jsapi_signature(
        "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value", ticket=TICKET)
    assert signature == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


def test_signature_ignores_the_fragment(app, fake_wechat):
    client = api(app, fake_wechat)
    plain = client.jsapi_signature("n", 1, "https://wx.example.test/h5/exam", ticket=TICKET)
    assert client.jsapi_signature("n", 1, "https://wx.example.test/h5/exam#q3", ticket=TICKET) == plain


def test_ticket_is_fetched_once_through_the_api_base_and_shared_in_redis(app, fake_wechat):
    first, second = api(app, fake_wechat), api(app, fake_wechat)  # two processes
    ticket = first.jsapi_ticket()
    assert second.jsapi_ticket() == ticket
    calls = fake_wechat.calls("cgi-bin/ticket/getticket")
    assert len(calls) == 1 and calls[0].query["type"] == "jsapi" and calls[0].query["access_token"]
    assert app.extensions["redis"].get(keys.jsapi_ticket(TEST_APPID)).decode() == ticket
    assert 0 < app.extensions["redis"].ttl(keys.jsapi_ticket(TEST_APPID)) <= 7200


def test_refused_ticket_is_an_api_error_and_nothing_is_stored(app, fake_wechat):
    fake_wechat.script("cgi-bin/ticket/getticket", {"errcode": 40164, "errmsg": "invalid ip"})
    with pytest.raises(WeChatApiError):
        api(app, fake_wechat).jsapi_ticket()
    assert app.extensions["redis"].get(keys.jsapi_ticket(TEST_APPID)) is None


def test_media_is_downloaded_and_capped(app, fake_wechat):
    fake_wechat.add_media("m1", b"\xff\xd8" + b"x" * 1000)
    client = api(app, fake_wechat)
    assert client.download_media("m1", 5000) == b"\xff\xd8" + b"x" * 1000
    assert len(client.download_media("m1", 100)) == 101  # one byte over tells the caller it is too big
    with pytest.raises(WeChatApiError) as refused:
        client.download_media("nope", 5000)
    assert refused.value.errcode == 40007


def test_exam_page_inside_wechat_carries_a_signed_wx_config(make_app, fake_wechat):
    import re

    from tests import factories
    from tests.h5.oauth_util import login

    app = make_app(WECHAT_API_BASE=fake_wechat.base_url, WECHAT_JSSDK_URL="https://res.wx.qq.com/open/js/jweixin-1.6.0.js")
    factories.trainee(app, openid="oJssdk000000000000000000001")
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50"
    login(client, fake_wechat, "oJssdk000000000000000000001", "/h5/exam")
    page = client.get("/h5/exam").get_data(as_text=True)
    nonce = re.search(r'"nonceStr": "([0-9a-f]+)"', page).group(1)
    timestamp = int(re.search(r'"timestamp": (\d+)', page).group(1))
    signature = re.search(r'"signature": "([0-9a-f]{40})"', page).group(1)
    ticket = app.extensions["redis"].get(keys.jsapi_ticket(config.of(app).wechat_appid)).decode()
    expected = api(app, fake_wechat).jsapi_signature(nonce, timestamp, "https://wx.example.test/h5/exam", ticket=ticket)
    assert signature == expected and '"chooseImage"' in page and "jweixin-1.6.0.js" in page
