"""The callback as WeChat and an attacker really use it: stale or replayed signatures, plaintext in
AES mode, a hung Redis, hostile XML; and what callbacks show about following."""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time

import pytest
import redis as redis_lib
from sqlalchemy import select

from models import WechatUser, db
from tests import factories
from tests.conftest import TEST_AES_KEY, TEST_APPID, TEST_TOKEN
from tests.wechat_util import WeChatServer, event_xml, query, reply_content, text_xml

OPENID = "oTrainee0000000000000000001"


@pytest.fixture
def wechat(client):
    return WeChatServer(client, TEST_TOKEN)


def post(client, xml: str, **params):
    return client.post("/wechat", query_string=query(TEST_TOKEN, **params), data=xml.encode(),
                       content_type="text/xml")


# 305, not 301: int() drops up to a second and the request takes time, so 301 raced the server's clock.
@pytest.mark.parametrize("age_s", [305, -305, 30 * 24 * 3600])
def test_a_timestamp_more_than_300_s_from_the_clock_is_refused(client, app, age_s, caplog):
    stale = str(int(time.time()) - age_s)
    with caplog.at_level(logging.WARNING):
        r = post(client, event_xml(OPENID, "unsubscribe"), timestamp=stale)
    assert r.status_code == 403 and "wechat_stale_timestamp" in caplog.text
    assert client.get("/wechat", query_string=query(TEST_TOKEN, stale, echostr="x")).status_code == 403
    with app.app_context():
        assert db.session.query(WechatUser).count() == 0


def test_a_timestamp_within_the_window_is_accepted(client):
    r = post(client, event_xml(OPENID, "CLICK", "HELP"), timestamp=str(int(time.time()) - 250))
    assert r.status_code == 200 and "使用帮助" in reply_content(r.data)


def test_a_reused_nonce_with_another_body_is_refused_and_has_no_effect(client, app):
    factories.trainee(app, openid=OPENID)
    params = query(TEST_TOKEN)
    first = client.post("/wechat", query_string=params, data=event_xml("oSomeoneElse", "CLICK", "HELP"))
    forged = client.post("/wechat", query_string=params, data=event_xml(OPENID, "unsubscribe"))
    assert first.status_code == 200 and forged.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(WechatUser.subscribed).where(WechatUser.openid == OPENID)) is True


def test_a_retry_with_the_same_nonce_and_body_is_answered_as_before(client):
    params, xml = query(TEST_TOKEN), text_xml(OPENID, "帮助", msg_id=77).encode()
    first = client.post("/wechat", query_string=params, data=xml)
    again = client.post("/wechat", query_string=params, data=xml)
    assert first.status_code == again.status_code == 200
    assert reply_content(first.data) == reply_content(again.data)


@pytest.fixture
def aes_app(make_app):
    return make_app(WECHAT_AES_KEY=TEST_AES_KEY)


def test_plaintext_is_refused_when_the_aes_key_is_set(aes_app, caplog):
    with caplog.at_level(logging.WARNING):
        r = post(aes_app.test_client(), event_xml(OPENID, "CLICK", "HELP"))
    assert r.status_code == 403
    [line] = [rec.getMessage() for rec in caplog.records if "wechat_plaintext_refused" in rec.getMessage()]
    assert "only encrypted callbacks" in line and "安全模式" in line
    encrypted = WeChatServer(aes_app.test_client(), TEST_TOKEN, TEST_AES_KEY, TEST_APPID)
    assert encrypted.post_encrypted(event_xml(OPENID, "CLICK", "HELP")).status_code == 200
    assert encrypted.post_encrypted(event_xml(OPENID, "CLICK", "HELP"), compatible=True).status_code == 200


def nested(depth: int) -> bytes:
    return ("<xml><MsgType>text</MsgType><FromUserName>o</FromUserName>" + "<a>" * depth + "x"
            + "</a>" * depth + "</xml>").encode()


@pytest.mark.parametrize("body", [
    nested(500),
    nested(5),
    b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
    b"<MsgType>event</MsgType><Event>CLICK</Event><EventKey><k/></EventKey></xml>",
    b'<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>'
    b'<MsgType>text</MsgType><Content><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd"/>'
    b'</Content><MsgId>1</MsgId></xml>',
    b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
    b"<MsgType>text</MsgType><Content><xi:include/></Content><MsgId>1</MsgId></xml>",
    b"<xml><ToUserName>gh</ToUserName><FromUserName><a>o</a></FromUserName><CreateTime>1</CreateTime>"
    b"<MsgType>text</MsgType><Content>hi</Content><MsgId>1</MsgId></xml>",
])
def test_deep_or_mistyped_xml_gets_400_never_500(client, body):
    r = client.post("/wechat", query_string=query(TEST_TOKEN), data=body, content_type="text/xml")
    assert r.status_code == 400 and b"Traceback" not in r.data


def test_a_scan_menu_event_keeps_its_nested_fields(client):
    body = (f"<xml><ToUserName>gh</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>1</CreateTime>"
            "<MsgType>event</MsgType><Event>scancode_waitmsg</Event><EventKey>SCAN</EventKey>"
            "<ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>abc</ScanResult></ScanCodeInfo></xml>")
    assert post(client, body).status_code == 200


@pytest.mark.parametrize("before", [None, False])
def test_any_message_or_menu_event_shows_the_openid_follows(wechat, app, before):
    factories.trainee(app, openid=OPENID)
    with app.app_context():
        db.session.query(WechatUser).update({"subscribed": before})
        db.session.commit()
    factories.trainee(app, name="周二", phone="13912340002", id_card="320505198001010033", openid="oSecond")
    with app.app_context():
        db.session.query(WechatUser).update({"subscribed": before})
        db.session.commit()
    assert wechat.post(event_xml(OPENID, "CLICK", "MY_COURSES")).status_code == 200
    assert wechat.post(text_xml("oSecond", "你好", msg_id=5)).status_code == 200
    with app.app_context():
        assert set(db.session.scalars(select(WechatUser.subscribed))) == {True}


# -- a hung Redis ---------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def hung_redis():
    """A redis-server of this test's own, on an ephemeral port; yields (url, pause)."""
    port = _free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        for _ in range(100):
            try:
                redis_lib.Redis.from_url(url).ping()
                break
            except redis_lib.ConnectionError:
                time.sleep(0.05)
        yield url, lambda: os.kill(proc.pid, signal.SIGSTOP)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.wait(10)


def test_a_callback_is_answered_within_5_s_while_redis_hangs(make_app, hung_redis, caplog):
    url, pause = hung_redis
    app = make_app(REDIS_URL=url)
    factories.trainee(app, openid=OPENID)
    wechat = WeChatServer(app.test_client(), TEST_TOKEN)
    pause()

    for xml, expected in [(event_xml(OPENID, "CLICK", "MY_COURSES"), "建筑工程"),
                          (event_xml("oNewFollower0001", "subscribe"), "认证登录"),
                          (text_xml(OPENID, "帮助", msg_id=9), "使用帮助")]:
        started = time.monotonic()
        r = wechat.post(xml)
        elapsed = time.monotonic() - started
        assert r.status_code == 200 and expected in reply_content(r.data), r.data
        print(f"answered in {elapsed:.2f} s")
        assert elapsed < 5, elapsed
    with app.app_context():
        assert db.session.scalar(select(WechatUser.subscribed).where(WechatUser.openid == "oNewFollower0001"))
