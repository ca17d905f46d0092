"""The `/wechat` callback: signatures, plaintext and AES modes, hostile XML, retries."""
from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy.exc import OperationalError
from wechatpy.crypto import WeChatCrypto

import handlers
from handlers.replies import Text
from handlers.router import Rule
from models import WechatUser, db
from tests.conftest import TEST_AES_KEY, TEST_APPID, TEST_TOKEN
from tests.wechat_util import WeChatServer, event_xml, query, reply_content, sign, text_xml

OPENID = "oTrainee0000000000000000001"


@pytest.fixture
def wechat(client):
    return WeChatServer(client, TEST_TOKEN)


@pytest.fixture
def counting_handler():
    """A handler on a test-only key that counts its calls (removed afterwards)."""
    calls = []
    rule = Rule(lambda m: getattr(m, "key", None) == "TEST_COUNT",
                lambda m, ctx: calls.append(m.source) or Text(f"第{len(calls)}次"))
    handlers.router.rules.insert(0, rule)
    yield calls
    handlers.router.rules.remove(rule)


def test_get_with_valid_signature_echoes_echostr(client):
    r = client.get("/wechat", query_string=query(TEST_TOKEN, echostr="hello123"))
    assert r.status_code == 200 and r.data == b"hello123"


@pytest.mark.parametrize("params", [
    {"signature": "0" * 40, "timestamp": "1", "nonce": "2", "echostr": "x"},
    {"timestamp": "1", "nonce": "2", "echostr": "x"},
])
def test_get_with_bad_or_missing_signature_is_forbidden(client, params):
    assert client.get("/wechat", query_string=params).status_code == 403


def test_post_with_bad_signature_is_forbidden_logged_and_has_no_effect(client, app, caplog):
    params = {"signature": sign("wrong-token", "1", "2"), "timestamp": "1", "nonce": "2"}
    with caplog.at_level(logging.WARNING):
        r = client.post("/wechat", query_string=params, data=event_xml(OPENID, "subscribe"))
    assert r.status_code == 403
    assert any("wechat_bad_signature" in rec.getMessage() for rec in caplog.records)
    with app.app_context():
        assert db.session.query(WechatUser).count() == 0


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_refused_with_405(client, method):
    r = client.open("/wechat", method=method, query_string=query(TEST_TOKEN))
    assert r.status_code == 405 and r.headers["Allow"] == "GET, POST"


def test_callback_answers_without_cookie_or_session(wechat):
    r = wechat.post(event_xml(OPENID, "CLICK", "HELP"))
    assert r.status_code == 200 and r.mimetype == "application/xml" and r.mimetype_params["charset"] == "utf-8"
    assert "Set-Cookie" not in r.headers and int(r.headers["Content-Length"]) == len(r.data)


def test_transport_error_is_logged_and_answered_500(wechat, monkeypatch, caplog):
    from wxapp.wechat import endpoint

    def broken(message, fields):
        raise ConnectionError("database gone")

    monkeypatch.setattr(endpoint, "_deliver", broken)
    with caplog.at_level(logging.ERROR):
        r = wechat.post(event_xml(OPENID, "CLICK", "HELP"))
    assert r.status_code == 500 and b"database gone" not in r.data
    assert any("wechat_callback_error" in rec.getMessage() for rec in caplog.records)


def test_paths_beside_the_callback_are_flask_pages(client):
    assert client.post("/wechat/", query_string=query(TEST_TOKEN)).status_code == 404


def test_subscribe_records_follow_and_answers_binding_link(wechat, app):
    r = wechat.post(event_xml(OPENID, "subscribe"))
    assert r.status_code == 200
    content = reply_content(r.data)
    assert "https://wx.example.test/h5/bind" in content and "认证登录" in content
    with app.app_context():
        user = db.session.query(WechatUser).filter_by(openid=OPENID).one()
        assert user.subscribed and user.subscribed_at is not None


def test_unsubscribe_is_recorded_and_needs_no_reply(wechat, app):
    wechat.post(event_xml(OPENID, "subscribe", create_time=1700000000))
    r = wechat.post(event_xml(OPENID, "unsubscribe", create_time=1700000100))
    assert r.data == b"success"
    with app.app_context():
        user = db.session.query(WechatUser).filter_by(openid=OPENID).one()
        assert not user.subscribed and user.unsubscribed_at is not None


def test_unknown_text_gets_the_help_text_and_keywords(wechat):
    r = wechat.post(text_xml(OPENID, "随便说点什么", msg_id=1))
    assert r.status_code == 200 and reply_content(r.data).startswith("抱歉，没有看懂您的消息")


@pytest.mark.parametrize("body", [
    b"not xml at all",
    b"<xml><FromUserName>a</FromUserName>",
    b"<other><MsgType>text</MsgType></other>",
    b"<xml><ToUserName>x</ToUserName></xml>",
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
    b"<xml><Content>&lol2;</Content><MsgType>text</MsgType></xml>",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<xml><Content>&xxe;</Content><MsgType>text</MsgType></xml>",
    b"<xml><MsgType>text</MsgType><Content>" + b"A" * 70_000 + b"</Content></xml>",
    # the same entity bomb in UTF-16: no encoding may hide a DTD from the screen
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><MsgType>text</MsgType>'
    '<FromUserName>o</FromUserName><Content>&a;</Content></xml>'.encode("utf-16"),
    "<xml><MsgType>text</MsgType><Content>课程</Content></xml>".encode("gbk"),
])
def test_hostile_or_broken_xml_is_rejected_with_400_and_no_trace(wechat, body):
    r = wechat.client.post("/wechat", query_string=query(TEST_TOKEN), data=body, content_type="text/xml")
    assert r.status_code == 400
    assert b"Traceback" not in r.data and b"File " not in r.data


def test_retried_event_has_its_effect_once_and_same_reply(wechat, counting_handler):
    xml = event_xml(OPENID, "CLICK", "TEST_COUNT", create_time=1700000000)
    first, second, third = (wechat.post(xml) for _ in range(3))
    assert counting_handler == [OPENID]
    assert reply_content(first.data) == reply_content(second.data) == reply_content(third.data) == "第1次"


def test_same_click_at_another_time_is_a_new_event(wechat, counting_handler):
    wechat.post(event_xml(OPENID, "CLICK", "TEST_COUNT", create_time=1700000000))
    wechat.post(event_xml(OPENID, "CLICK", "TEST_COUNT", create_time=1700000001))
    assert len(counting_handler) == 2


def test_retry_while_first_is_still_answering_gets_success(wechat, redis, counting_handler):
    from wxapp.wechat import dedup

    fields = {"FromUserName": OPENID, "MsgType": "event", "CreateTime": "1700000000",
              "Event": "CLICK", "EventKey": "TEST_COUNT"}
    redis.set(dedup.delivery_key(fields), dedup.PENDING, ex=60)
    r = wechat.post(event_xml(OPENID, "CLICK", "TEST_COUNT", create_time=1700000000))
    assert r.data == b"success" and counting_handler == []


def test_same_msgid_from_two_users_are_two_messages(wechat, app):
    a = wechat.post(text_xml("oUserA", "帮助", msg_id=42))
    b = wechat.post(text_xml("oUserB", "帮助", msg_id=42))
    assert "使用帮助" in reply_content(a.data) and "使用帮助" in reply_content(b.data)


def test_retried_subscribe_records_once_and_gets_the_same_reply(wechat, app, redis):
    xml = event_xml(OPENID, "subscribe", create_time=1700000000)
    first = wechat.post(xml)
    with app.app_context():
        db.session.query(WechatUser).update({"subscribed": False})
        db.session.commit()
    again = wechat.post(xml)
    assert reply_content(again.data) == reply_content(first.data)
    with app.app_context():
        assert db.session.query(WechatUser).one().subscribed is False  # the retry did not run again
    assert len(redis.keys("wxapp:wechat:seen:*")) == 1


def test_read_only_answers_are_recomputed_for_a_retry_without_dedup(wechat, redis):
    wechat.post(text_xml(OPENID, "帮助", msg_id=7))
    again = wechat.post(text_xml(OPENID, "帮助", msg_id=7))
    assert "使用帮助" in reply_content(again.data)
    assert redis.keys("wxapp:wechat:seen:*") == []


def test_handler_error_is_logged_and_answered_success(wechat, caplog):
    def broken(message, ctx):
        raise RuntimeError("boom")

    rule = Rule(lambda m: getattr(m, "key", None) == "TEST_BROKEN", broken)
    handlers.router.rules.insert(0, rule)
    try:
        with caplog.at_level(logging.ERROR):
            r = wechat.post(event_xml(OPENID, "CLICK", "TEST_BROKEN"))
    finally:
        handlers.router.rules.remove(rule)
    assert r.status_code == 200 and r.data == b"success"
    assert any("wechat_handler_error" in rec.getMessage() for rec in caplog.records)
    assert OPENID not in caplog.text


HALF_DONE = "oHalfDone000000000000000001"


@pytest.mark.parametrize("failure, answered", [
    (RuntimeError("boom"), None),
    (OperationalError("SELECT 1", {}, Exception("server closed the connection")), "系统暂时繁忙"),
])
def test_a_handler_failing_half_way_leaves_nothing_behind_and_the_next_message_is_answered(
        wechat, app, failure, answered):
    """The callback neither commits nor rolls back: what a failed handler wrote outside a service's
    transaction is dropped with the callback's session, and the next callback starts clean."""
    with app.app_context():
        db.session.add(WechatUser(openid=OPENID, subscribed=False))
        db.session.commit()

    def half_done(message, ctx):
        ctx.session.add(WechatUser(openid=HALF_DONE))
        ctx.session.flush()
        raise failure

    rule = Rule(lambda m: getattr(m, "key", None) == "TEST_HALF", half_done)
    handlers.router.rules.insert(0, rule)
    try:
        r = wechat.post(event_xml(OPENID, "CLICK", "TEST_HALF"))
    finally:
        handlers.router.rules.remove(rule)
    assert r.status_code == 200
    if answered is None:
        assert r.data == b"success"
    else:
        assert answered in reply_content(r.data)
    with app.app_context():
        assert db.session.query(WechatUser).filter_by(openid=HALF_DONE).count() == 0
        assert db.session.query(WechatUser).filter_by(openid=OPENID).one().subscribed  # the follow: its own transaction
    assert "使用帮助" in reply_content(wechat.post(text_xml(OPENID, "帮助", msg_id=11)).data)


@pytest.fixture
def aes_client(make_app):
    app = make_app(WECHAT_AES_KEY=TEST_AES_KEY)
    return WeChatServer(app.test_client(), TEST_TOKEN, TEST_AES_KEY, TEST_APPID)


def test_encrypted_click_gets_encrypted_reply(aes_client):
    r = aes_client.post_encrypted(event_xml(OPENID, "CLICK", "HELP"))
    assert r.status_code == 200
    assert b"<Encrypt>" in r.data and b"<MsgSignature>" in r.data and b"<TimeStamp>" in r.data
    assert b"<Nonce>" in r.data and "帮助".encode() not in r.data
    assert "使用帮助" in reply_content(aes_client.decrypt_reply(r))


def test_compatible_mode_body_is_decrypted(aes_client):
    r = aes_client.post_encrypted(event_xml(OPENID, "CLICK", "HELP"), compatible=True)
    assert "使用帮助" in reply_content(aes_client.decrypt_reply(r))


def test_encrypted_body_with_wrong_msg_signature_is_forbidden(aes_client):
    xml = "<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[abcd]]></Encrypt></xml>"
    params = query(TEST_TOKEN, encrypt_type="aes", msg_signature="0" * 40)
    r = aes_client.client.post("/wechat", query_string=params, data=xml)
    assert r.status_code == 403


def test_encrypted_body_that_does_not_decrypt_is_400(aes_client):
    timestamp, nonce, encrypt = str(int(time.time())), "1320562132", "bm90IHJlYWxseSBlbmNyeXB0ZWQ="
    crypto = WeChatCrypto(TEST_TOKEN, TEST_AES_KEY, TEST_APPID)
    msg_signature = sign_msg(TEST_TOKEN, timestamp, nonce, encrypt)
    params = query(TEST_TOKEN, timestamp, nonce, encrypt_type="aes", msg_signature=msg_signature)
    body = f"<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    assert crypto  # same settings as the app
    assert aes_client.client.post("/wechat", query_string=params, data=body).status_code == 400


def sign_msg(token, timestamp, nonce, encrypt):
    import hashlib

    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


OFFICIAL = {
    "token": "spamtest",
    "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "appid": "wx2c2769f8efd9abc2",
    "timestamp": "1409735669",
    "nonce": "1320562132",
    "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
    "encrypt": (
        "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVA"
        "FmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVtic"
        "bSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe"
        "+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEP"
        "o5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
    ),
}


def test_official_encryption_vector_decrypts_and_is_handled(make_app, caplog):
    app = make_app(WECHAT_TOKEN=OFFICIAL["token"], WECHAT_AES_KEY=OFFICIAL["aes_key"],
                   WECHAT_APPID=OFFICIAL["appid"])
    app.extensions["wechat_callback"].clock = lambda: int(OFFICIAL["timestamp"]) + 60  # the vector was signed in 2014
    params = query(OFFICIAL["token"], OFFICIAL["timestamp"], OFFICIAL["nonce"], encrypt_type="aes",
                   msg_signature=OFFICIAL["msg_signature"])
    body = f"<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[{OFFICIAL['encrypt']}]]></Encrypt></xml>"
    with caplog.at_level(logging.INFO):
        r = app.test_client().post("/wechat", query_string=params, data=body)
    assert r.status_code == 200 and b"<Encrypt>" in r.data  # text "abcdteT" is no keyword: the help, sealed
    assert any("wechat_message" in rec.getMessage() and "type=text" in rec.getMessage()
               for rec in caplog.records)
    tampered = dict(params, msg_signature="5d197aaffba7e9b25a30732f161a50dee96bd5fb")
    assert app.test_client().post("/wechat", query_string=tampered, data=body).status_code == 403


def test_previous_aes_key_still_decrypts_during_a_key_change(make_app):
    new_key = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
    app = make_app(WECHAT_AES_KEY=new_key, WECHAT_AES_KEY_PREVIOUS=TEST_AES_KEY)
    old_sender = WeChatServer(app.test_client(), TEST_TOKEN, TEST_AES_KEY, TEST_APPID)
    r = old_sender.post_encrypted(event_xml(OPENID, "CLICK", "HELP"))
    assert r.status_code == 200
    new_reader = WeChatServer(app.test_client(), TEST_TOKEN, new_key, TEST_APPID)
    assert "使用帮助" in reply_content(new_reader.decrypt_reply(r))


def test_scan_to_follow_is_a_subscribe_scan_with_the_scene(wechat, app):
    r = wechat.post(event_xml(OPENID, "subscribe", key="qrscene_attend-abc"))
    assert "认证登录" in reply_content(r.data)
    from wxapp.wechat.security import parse_fields, to_message

    message = to_message(parse_fields(event_xml(OPENID, "subscribe", key="qrscene_attend-abc")))
    assert message.event == "subscribe_scan" and message.scene_id == "attend-abc"
