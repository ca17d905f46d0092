"""认证登录 (/h5/bind): binds only on phone + ID card, refuses with a Chinese reason otherwise."""
from __future__ import annotations

import logging
import re

import pytest

from models import BindingLog, WechatUser, db
from services.identity import binding
from tests import factories
from tests.h5.oauth_util import login

OPENID = "oBindUser000000000000000001"
PHONE, ID_CARD = "13912340001", "320505198001010017"


@pytest.fixture
def app(make_app, fake_wechat):
    return make_app(WECHAT_API_BASE=fake_wechat.base_url)


@pytest.fixture
def trainee_id(app):
    return factories.trainee(app, phone=PHONE, id_card=ID_CARD)


@pytest.fixture
def browser(app, fake_wechat):
    client = app.test_client()
    login(client, fake_wechat, OPENID, "/h5/bind")
    return client


def csrf_token(client) -> str:
    page = client.get("/h5/bind").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def submit(client, phone, id_card):
    return client.post("/h5/bind", data={"phone": phone, "id_card": id_card, "csrf_token": csrf_token(client)})


def bound_trainee_of(app, openid=OPENID):
    with app.app_context():
        user = db.session.query(WechatUser).filter_by(openid=openid).one_or_none()
        return user.trainee_id if user else None


def test_form_is_large_mobile_friendly_and_has_csrf(browser):
    page = browser.get("/h5/bind").get_data(as_text=True)
    assert 'name="phone"' in page and 'inputmode="numeric"' in page and 'type="tel"' in page
    assert 'name="id_card"' in page and 'name="csrf_token"' in page and "认证登录" in page
    assert "width=device-width" in page


def test_matching_phone_and_id_binds_and_goes_to_portal(browser, app, trainee_id):
    r = submit(browser, PHONE, ID_CARD)
    assert r.status_code == 303 and r.headers["Location"].endswith("/h5/learn")
    assert bound_trainee_of(app) == trainee_id
    with app.app_context():
        entry = db.session.query(BindingLog).filter_by(action="bound").one()
        assert entry.phone_mask == "139****0001" and entry.id_card_mask == "3205**********0017"


@pytest.mark.parametrize("id_card", [" 32050519800101001７ ", "3205 0519 8001 0100 17"])
def test_id_card_is_normalised_before_matching(browser, app, trainee_id, id_card):
    assert submit(browser, "139 1234 0001", id_card).status_code == 303
    assert bound_trainee_of(app) == trainee_id


def test_lower_case_x_matches(browser, app):
    tid = factories.trainee(app, name="吴二", phone="13912340002", id_card="32058319751212108X")
    assert submit(browser, "13912340002", "32058319751212108x").status_code == 303
    assert bound_trainee_of(app) == tid


@pytest.mark.parametrize("phone,id_card,field,words", [
    ("13900000000", ID_CARD, "form", "请核对两个号码"),          # ID known under another phone
    ("13900000000", "11010519491231002X", "form", "请核对两个号码"),  # neither known
    (PHONE, "11010519491231002X", "form", "请核对两个号码"),     # phone known, ID not
    (PHONE, "320505198001010018", "id_card", "校验位错误"),
    ("1391234000", ID_CARD, "phone", "11位"),
    (PHONE, "", "id_card", "身份证号为空"),
])
def test_refusals_bind_nothing_and_say_why_next_to_the_field(browser, app, trainee_id, phone, id_card, field, words):
    r = submit(browser, phone, id_card)
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    error = re.search(rf'id="error-{field}">([^<]+)<', page)
    assert error and words in error.group(1)
    assert bound_trainee_of(app) is None


def test_trainee_bound_to_another_wechat_is_refused(browser, app, trainee_id):
    with app.app_context():
        db.session.add(WechatUser(openid="oSomeoneElse0000000000000001", trainee_id=trainee_id))
        db.session.commit()
    r = submit(browser, PHONE, ID_CARD)
    assert r.status_code == 400 and "该学员已绑定其他微信" in r.get_data(as_text=True)
    assert bound_trainee_of(app) is None


def test_post_without_csrf_token_binds_nothing(browser, app, trainee_id):
    r = browser.post("/h5/bind", data={"phone": PHONE, "id_card": ID_CARD})
    assert r.status_code == 400 and "已过期" in r.get_data(as_text=True)
    assert bound_trainee_of(app) is None


def test_too_many_failures_lock_the_openid_even_for_the_right_answer(browser, app, trainee_id):
    for _ in range(binding.LIMITS["openid"]):
        assert submit(browser, PHONE, "11010519491231002X").status_code == 400
    r = submit(browser, PHONE, ID_CARD)
    assert r.status_code == 400 and "尝试次数过多" in r.get_data(as_text=True)
    assert bound_trainee_of(app) is None
    with app.app_context():
        reasons = [e.reason for e in db.session.query(BindingLog).order_by(BindingLog.id)]
    assert reasons == ["id_mismatch"] * binding.LIMITS["openid"] + ["locked"]


def test_format_mistakes_do_not_count_towards_the_lock(browser, app, trainee_id):
    for _ in range(binding.LIMITS["openid"] + 2):
        submit(browser, "123", ID_CARD)
    assert submit(browser, PHONE, ID_CARD).status_code == 303


def test_a_locked_address_locks_other_openids_too(app, fake_wechat, trainee_id, redis):
    from services import keys

    redis.set(keys.bind_lock("ip", "127.0.0.1"), 1, ex=60)
    client = app.test_client()
    login(client, fake_wechat, "oAnotherUser000000000000001", "/h5/bind")
    assert "尝试次数过多" in submit(client, PHONE, ID_CARD).get_data(as_text=True)


def test_bound_user_sees_who_they_are_bound_as_masked(browser, app, trainee_id):
    submit(browser, PHONE, ID_CARD)
    page = browser.get("/h5/bind").get_data(as_text=True)
    assert "您已完成认证" in page and "周一" in page and "139****0001" in page and "3205**********0017" in page
    assert PHONE not in page and ID_CARD not in page


def test_no_full_phone_or_id_card_in_logs(browser, app, trainee_id, caplog):
    with caplog.at_level(logging.DEBUG):
        submit(browser, PHONE, "11010519491231002X")
        submit(browser, PHONE, ID_CARD)
    assert PHONE not in caplog.text and ID_CARD not in caplog.text and "11010519491231002X" not in caplog.text


def test_bound_trainee_menu_answers_follow_the_binding(browser, app, trainee_id, client):
    from tests.conftest import TEST_TOKEN
    from tests.wechat_util import WeChatServer, event_xml, reply_content

    wechat = WeChatServer(app.test_client(), TEST_TOKEN)
    assert "认证登录" in reply_content(wechat.post(event_xml(OPENID, "CLICK", "MY_COURSES")).data)
    submit(browser, PHONE, ID_CARD)
    assert "专业课·建筑工程" in reply_content(wechat.post(event_xml(OPENID, "CLICK", "MY_COURSES")).data)
