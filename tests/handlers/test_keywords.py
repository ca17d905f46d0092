"""Texts a trainee types: the keywords answer like the menu, anything else gets the help text and
the keyword list (CONTRACT §3), and the school's phone shows wherever the school is the way out."""
from __future__ import annotations

import pytest

from tests import factories
from tests.conftest import TEST_TOKEN
from tests.wechat_util import WeChatServer, reply_content, text_xml

OPENID = "oKeywordTrainee00000000001"
STRANGER = "oKeywordStranger0000000001"
PHONE = "0512-66668888"


@pytest.fixture
def app(make_app):
    return make_app(SCHOOL_PHONE=PHONE)


@pytest.fixture
def send(client):
    wechat = WeChatServer(client, TEST_TOKEN)
    counter = iter(range(1, 1000))

    def send(openid: str, text: str) -> str:
        response = wechat.post(text_xml(openid, text, msg_id=next(counter)))
        assert response.status_code == 200 and response.data != b"success"
        return reply_content(response.data)

    return send


@pytest.fixture
def bound(app):
    factories.training_class(app)
    return factories.trainee(app, openid=OPENID, class_code="SZ2701-JZ")


@pytest.mark.parametrize("text", ["你好", "考勤怎么弄", "1", "😀"])
def test_a_text_not_understood_gets_the_help_text_and_the_keywords(send, text):
    content = send(STRANGER, text)
    assert content.startswith("抱歉，没有看懂您的消息")
    assert "使用帮助" in content and "回复关键词可直接查询：课程、学时、考试、证书、班级、绑定、客服" in content


def test_the_help_text_gives_the_school_phone(send):
    content = send(STRANGER, "帮助")
    assert f"联系方式：苏州市智信建设职业培训学校教务处（工作日 9:00–17:00），电话 {PHONE}" in content


@pytest.mark.parametrize("word", ["客服", "电话", "人工"])
def test_asking_for_the_school_answers_its_phone(send, word):
    content = send(STRANGER, word)
    assert content.startswith("【联系学校】") and PHONE in content


@pytest.mark.parametrize("word,expected", [
    ("考试", "· 建筑工程：未开放，还差 公共课 16 学时"), ("学时", "已修 0 / 16 学时"), ("班级", "2027年第1期建筑工程班"),
])
def test_keywords_answer_a_bound_trainee_like_the_menu(send, bound, word, expected):
    assert expected in send(OPENID, word)


@pytest.mark.parametrize("word", ["考试", "学时", "班级"])
def test_keywords_ask_a_stranger_to_bind_first(send, word):
    assert "认证登录" in send(STRANGER, word)


def test_a_bound_trainee_asking_to_rebind_is_told_the_school_phone(send, bound):
    content = send(OPENID, "绑定")
    assert "您已认证为：周一" in content and f"电话 {PHONE}" in content


def test_without_a_phone_the_contact_line_stays_as_configured(make_app):
    app = make_app()
    wechat = WeChatServer(app.test_client(), TEST_TOKEN)
    content = reply_content(wechat.post(text_xml(STRANGER, "帮助", msg_id=1)).data)
    assert "联系方式：苏州市智信建设职业培训学校教务处（工作日 9:00–17:00）\n" in content
