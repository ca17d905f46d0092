"""After a void or a pass, the chat and the exam page tell the trainee what is true and where to go:
成绩已取消 with the date and the reason, then 可重新参加考试; after a pass, the certificate (学时证明).
学时证明 is in the menu (MY_CERTIFICATES, CONTRACT §3)."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models import db
from services.exam import staff
from tests import factories
from tests.conftest import TEST_TOKEN
from tests.exam_util import bank, full_hours, sit
from tests.h5.oauth_util import login
from tests.wechat_util import WeChatServer, event_xml, reply_content
from wxapp.extensions import exam_tools

OPENID = "oStoryTrainee00000000000000001"
STRANGER = "oStoryStranger0000000000000001"
CERTS_URL = "https://wx.example.test/h5/certificates"
EXAM_URL = "https://wx.example.test/h5/exam"
BIND_URL = "https://wx.example.test/h5/bind"
VOIDED_AT = datetime(2027, 4, 2, 3, 0, tzinfo=UTC)  # 2027-04-02 11:00 in Shanghai
REASON = "考前照片与本人不符"


@pytest.fixture
def app(make_app, fake_wechat):
    return make_app(WECHAT_API_BASE=fake_wechat.base_url)


@pytest.fixture
def wechat(client):
    return WeChatServer(client, TEST_TOKEN)


@pytest.fixture
def trainee(app):
    bank(app)
    trainee_id = factories.trainee(app, name="张三", openid=OPENID)
    full_hours(app, trainee_id)
    return trainee_id


def click(wechat, openid, key):
    r = wechat.post(event_xml(openid, "CLICK", key))
    assert r.status_code == 200
    return reply_content(r.data)


def void(app, attempt_id):
    with app.app_context():
        staff.void(exam_tools(), attempt_id, "王老师", REASON, VOIDED_AT)


def exam_page(app, fake_wechat) -> str:
    client = app.test_client()
    login(client, fake_wechat, OPENID, "/h5/exam")
    r = client.get("/h5/exam")
    assert r.status_code == 200
    return r.get_data(as_text=True)


def test_my_exam_after_a_void_says_the_result_was_cancelled_when_and_why(app, wechat, trainee):
    void(app, sit(app, trainee))

    content = click(wechat, OPENID, "MY_EXAM")

    assert f"建筑工程：成绩已取消（2027年4月2日，原因：{REASON}），可重新参加考试" in content
    assert "未合格（" not in content and f'href="{EXAM_URL}"' in content and CERTS_URL not in content


def test_the_exam_page_after_a_void_says_cancelled_with_date_and_reason_then_retake(app, fake_wechat, trainee):
    void(app, sit(app, trainee))

    page = exam_page(app, fake_wechat)

    assert f"成绩已取消（2027年4月2日，原因：{REASON}）" in page
    assert page.index("成绩已取消") < page.index("可重新参加考试") and "重新考试" in page


def test_a_paper_handed_in_after_the_void_is_the_last_word_again(app, wechat, trainee):
    void(app, sit(app, trainee))
    sit(app, trainee, token="again")

    content = click(wechat, OPENID, "MY_EXAM")

    assert "成绩已取消" not in content and "建筑工程：已合格（100分）" in content


def test_my_exam_after_a_pass_links_the_certificate_not_the_exam(app, wechat, trainee):
    sit(app, trainee)

    content = click(wechat, OPENID, "MY_EXAM")

    assert "已合格（100分）" in content and f'href="{CERTS_URL}"' in content and "学时证明" in content
    assert EXAM_URL not in content and "进入考试" not in content


def test_the_exam_page_after_a_pass_links_the_certificate(app, fake_wechat, trainee):
    sit(app, trainee)

    page = exam_page(app, fake_wechat)

    assert 'class="weui-btn weui-btn_primary exam-certificate" href="/h5/certificates"' in page
    assert 'id="result-certificate" href="/h5/certificates"' in page  # the result screen's, shown on a pass


def test_my_certificates_names_each_certificate_and_what_is_still_missing(app, wechat):
    bank(app, majors=("building", "municipal"))
    trainee_id = factories.trainee(app, name="张三", openid=OPENID,
                                   majors=(("建筑工程", "main"), ("市政公用工程", "added")))
    full_hours(app, trainee_id, majors=("建筑工程",))
    sit(app, trainee_id)
    with app.app_context():
        from services.completion.certificates import certificates_of
        [cert] = certificates_of(db.session, trainee_id)

    content = click(wechat, OPENID, "MY_CERTIFICATES")

    assert f"· 建筑工程：编号 {cert.number}" in content
    assert "尚未取得：" in content and "· 市政公用工程：未开放，还差 市政公用工程专业课 40 学时" in content
    assert f'href="{CERTS_URL}"' in content


def test_my_certificates_before_any_says_what_is_missing(app, wechat):
    factories.trainee(app, name="张三", openid=OPENID)

    content = click(wechat, OPENID, "MY_CERTIFICATES")

    assert "还没有学时证明" in content and "· 建筑工程：未开放，还差 公共课 16 学时" in content
    assert f'href="{CERTS_URL}"' in content


def test_my_certificates_asks_a_stranger_to_bind(wechat):
    content = click(wechat, STRANGER, "MY_CERTIFICATES")

    assert f'href="{BIND_URL}"' in content and CERTS_URL not in content


def test_the_menu_has_the_certificates_under_my_study():
    menu = json.loads((Path(__file__).resolve().parents[2] / "menu.json").read_text(encoding="utf-8"))
    [study] = [b for b in menu["button"] if b["name"] == "我的学习"]
    assert {"type": "click", "name": "学时证明", "key": "MY_CERTIFICATES"} in study["sub_button"]
