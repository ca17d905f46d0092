"""The phone simulator's server side (/dev/phone): callbacks as WeChat sends them, plain or
encrypted, replies as WeChat shows them, and what the server sent each persona."""
from __future__ import annotations

from services.identity.pii import mask_phone
from tests.conftest import TEST_AES_KEY
from wxapp.sandbox import log as sandbox_log
from wxapp.sandbox.phone import personas

ZHANG = personas()[0]
STRANGER = personas()[-1]


def test_the_page_shows_the_menu_with_its_sub_menu_and_every_persona(client):
    page = client.get("/dev/phone").get_data(as_text=True)
    assert "在线学习" in page and 'data-sub="1"' in page and "我的学习" in page and '"MY_COURSES"' in page
    for persona in personas():
        assert f'value="{persona["openid"]}"' in page
    assert "vendor/jsQR.js" in page and client.get("/dev/phone/static/vendor/jsQR.js").status_code == 200


def test_a_click_and_a_text_reach_the_callback_and_come_back_as_wechat_shows_them(client):
    help_ = client.post("/dev/phone/send", json={"openid": STRANGER["openid"], "key": "HELP"}).get_json()
    assert help_["sent"] == "点击菜单「帮助」" and help_["reply"]["type"] == "text"
    learn = client.post("/dev/phone/send", json={"openid": STRANGER["openid"], "key": "ONLINE_LEARNING"}).get_json()
    links = [url for _, url in learn["reply"]["segments"] if url]
    assert links == ["https://wx.example.test/h5/bind"]
    text = client.post("/dev/phone/send", json={"openid": STRANGER["openid"], "text": "你好<&>"}).get_json()
    assert text["sent"] == "发送文字“你好<&>”" and "没有看懂" in text["reply"]["segments"][0][0]
    assert client.post("/dev/phone/send", json={"key": "HELP"}).status_code == 400


def test_with_an_aes_key_the_simulator_talks_encrypted_as_wechat_then_must(make_app):
    client = make_app(WECHAT_AES_KEY=TEST_AES_KEY).test_client()
    answer = client.post("/dev/phone/send", json={"openid": STRANGER["openid"], "key": "HELP"}).get_json()
    assert answer["status"] == 200 and "使用帮助" in answer["reply"]["segments"][0][0]
    assert 'id="encrypted"' in client.get("/dev/phone").get_data(as_text=True)


def test_the_inbox_holds_what_was_sent_to_this_persona_only(client, redis):
    sandbox_log.record(redis, "wechat", "POST", "cgi-bin/message/template/send", body={
        "touser": ZHANG["openid"], "template_id": "t1", "url": "https://wx.example.test/h5/learn",
        "data": {"thing1": {"value": "建筑工程演示班"}, "time2": {"value": "2027年3月1日 09:00"}}})
    sandbox_log.record(redis, "wechat", "POST", "cgi-bin/message/custom/send", body={
        "touser": ZHANG["openid"], "msgtype": "text", "text": {"content": '请<a href="https://wx.example.test/h5/exam">考试</a>'}})
    sandbox_log.record(redis, "wechat", "POST", "cgi-bin/message/template/send", body={
        "touser": STRANGER["openid"], "template_id": "t1", "data": {}})
    sandbox_log.record(redis, "sms", "POST", "sms/send", body={
        "phone": mask_phone(ZHANG["phone"]), "template_code": "SMS_CLASS_OPEN", "params": {"name": "张三"}})

    items = client.get("/dev/phone/inbox", query_string={"openid": ZHANG["openid"]}).get_json()
    assert [item["kind"] for item in items] == ["template", "text", "sms"]
    assert items[0]["lines"] == ["建筑工程演示班", "2027年3月1日 09:00"] and items[0]["url"].endswith("/h5/learn")
    assert ["考试", "https://wx.example.test/h5/exam"] in items[1]["segments"]
    assert items[2]["title"] == "短信（发往 138****8001）"
    assert items[2]["lines"] == ["张三您好，您报名的将于在开班，请准时参加。"]  # the template's wording, not bare parameters
    assert len({item["id"] for item in items}) == 3
    assert len(client.get("/dev/phone/inbox", query_string={"openid": STRANGER["openid"]}).get_json()) == 1


def test_the_decoder_is_the_vendored_jsqr():
    from wxapp.sandbox.phone import STATIC

    assert (STATIC / "vendor" / "jsQR.js").stat().st_size > 100_000  # the vendored decoder, not a stub


def test_a_news_reply_becomes_cards_with_their_links():
    from types import SimpleNamespace

    from handlers.replies import Article, News
    from wxapp.sandbox.phone import _reply_json
    from wxapp.wechat.render import render

    message = SimpleNamespace(source="oUser", target="gh_sandbox")
    xml = render(News([Article("在线学习", "点击进入", "https://wx.example.test/h5/learn", "https://wx.example.test/a.png")]),
                 message)
    assert _reply_json(xml) == {"type": "news", "articles": [{
        "title": "在线学习", "description": "点击进入", "url": "https://wx.example.test/h5/learn",
        "image": "https://wx.example.test/a.png"}]}


def test_an_sms_shows_as_the_phone_shows_it_signed_with_the_templates_wording(client, redis):
    sandbox_log.record(redis, "sms", "POST", "sms/send", body={
        "phone": mask_phone(ZHANG["phone"]), "sign_name": "智信培训", "template_code": "SMS_MOVE_CODE",
        "params": {"code": "042917"}})
    sandbox_log.record(redis, "sms", "POST", "sms/send", body={
        "phone": mask_phone(ZHANG["phone"]), "template_code": "SMS_SOMETHING_ELSE", "params": {"a": "1", "b": "2"}})
    items = client.get("/dev/phone/inbox", query_string={"openid": ZHANG["openid"]}).get_json()
    assert items[0]["lines"] == ["【智信培训】您正在更换继续教育公众号绑定的微信，验证码042917，5分钟内有效。"
                                 "如非本人操作，请勿告诉他人并致电学校。"]
    assert items[1]["lines"] == ["1，2"]  # a template the file doesn't know: its parameters as sent
