"""Passive replies: WeChat's XML shape, and text that can't break it ("]]>", control characters)."""
from __future__ import annotations

import time
from xml.etree.ElementTree import fromstring

import pytest

import handlers
from handlers.replies import Article, News, Text
from handlers.router import Rule
from tests.conftest import TEST_TOKEN
from tests.wechat_util import WeChatServer, event_xml
from wxapp.wechat.render import render
from wxapp.wechat.security import parse_fields, to_message

OPENID = "oRender000000000000000000001"
TRICKY = "班级地点：苏州]]>人民路<100号> & 培训楼\x0b\x01"


def message():
    return to_message(parse_fields(event_xml(OPENID, "CLICK", "HELP", to="gh_school")))


def test_text_reply_has_wechat_shape_and_keeps_every_character_xml_can_carry():
    before = int(time.time())
    root = fromstring(render(Text(TRICKY), message()))
    assert root.findtext("ToUserName") == OPENID and root.findtext("FromUserName") == "gh_school"
    assert before <= int(root.findtext("CreateTime")) <= int(time.time())
    assert root.findtext("MsgType") == "text"
    assert root.findtext("Content") == "班级地点：苏州]]>人民路<100号> & 培训楼"


def test_news_reply_lists_its_articles():
    news = News([Article("在线学习", TRICKY, "https://wx.example.test/h5/learn?a=1&b=2", "https://x/p.png")])
    root = fromstring(render(news, message()))
    assert root.findtext("MsgType") == "news" and root.findtext("ArticleCount") == "1"
    [item] = root.iter("item")
    assert [item.findtext(k) for k in ("Title", "Description", "Url", "PicUrl")] == [
        "在线学习", "班级地点：苏州]]>人民路<100号> & 培训楼", "https://wx.example.test/h5/learn?a=1&b=2",
        "https://x/p.png"]


def test_no_reply_renders_nothing_and_an_unknown_reply_is_a_bug():
    assert render(None, message()) == ""
    with pytest.raises(TypeError):
        render("plain string", message())


def test_a_reply_with_cdata_end_in_it_reaches_wechat_whole(client):
    rule = Rule(lambda m: getattr(m, "key", None) == "TEST_TRICKY", lambda m, ctx: Text(TRICKY), pure=True)
    handlers.router.rules.insert(0, rule)
    try:
        r = WeChatServer(client, TEST_TOKEN).post(event_xml(OPENID, "CLICK", "TEST_TRICKY"))
    finally:
        handlers.router.rules.remove(rule)
    assert r.status_code == 200 and parse_fields(r.get_data(as_text=True))["Content"].startswith("班级地点：苏州]]>")
