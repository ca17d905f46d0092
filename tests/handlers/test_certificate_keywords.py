"""The text keywords 证书 and 学时证明 answer with the link to the trainee's certificates."""
from __future__ import annotations

import pytest

from tests import factories
from tests.completion_util import complete
from tests.conftest import TEST_TOKEN
from tests.wechat_util import WeChatServer, reply_content, text_xml

OPENID = "oCertKeyword00000000000000001"
CERTS_URL = "https://wx.example.test/h5/certificates"
BIND_URL = "https://wx.example.test/h5/bind"


@pytest.fixture
def wechat(client):
    return WeChatServer(client, TEST_TOKEN)


def say(wechat, openid, words, msg_id):
    r = wechat.post(text_xml(openid, words, msg_id))
    assert r.status_code == 200
    return reply_content(r.data)


@pytest.mark.parametrize("words", ["证书", "学时证明"])
def test_keyword_links_the_certificates_of_a_trainee_who_completed(app, wechat, words):
    trainee = factories.trainee(app, openid=OPENID, majors=(("建筑工程", "main"), ("市政公用工程", "added")))
    number = complete(app, trainee)
    content = say(wechat, OPENID, words, 9001)
    assert f'href="{CERTS_URL}"' in content and f"· 建筑工程：编号 {number}" in content
    assert "尚未取得：\n· 市政公用工程：未开放" in content


def test_keyword_before_any_completion_says_how_to_get_one(app, wechat):
    factories.trainee(app, openid=OPENID)
    content = say(wechat, OPENID, "证书", 9002)
    assert "还没有学时证明" in content and f'href="{CERTS_URL}"' in content


def test_keyword_from_an_unbound_user_asks_to_bind_first(wechat):
    content = say(wechat, "oStranger000000000000000001", "学时证明", 9003)
    assert f'href="{BIND_URL}"' in content and CERTS_URL not in content
