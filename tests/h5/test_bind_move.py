"""更换绑定的微信 (CONTRACT §4): a trainee bound to another WeChat moves the binding with an SMS code
sent to the roster phone: right code moves (old page stopped, both logged, old WeChat told);
wrong, expired, spent and too frequent codes are refused; binding itself is as strong as before."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from models import BindingLog, Notice, OutboxMessage, WechatUser, db
from services import keys, rebind
from services.identity import binding
from tests import factories
from tests.h5.oauth_util import login
from tests.notify_util import sms_sent
from tests.study_util import lesson

OLD, NEW = "oOldWechat0000000000000001", "oNewWechat0000000000000001"
PHONE, ID_CARD = "13912340001", "320505198001010017"


@pytest.fixture
def app(make_app, fake_wechat, tmp_path):
    templates = json.loads(Path("notice_templates.json").read_text(encoding="utf-8"))
    templates["binding_moved"]["wechat"]["template_id"] = "tmpl-moved"
    (tmp_path / "templates.json").write_text(json.dumps(templates, ensure_ascii=False), encoding="utf-8")
    return make_app(WECHAT_API_BASE=fake_wechat.base_url, NOTICE_TEMPLATES_FILE=tmp_path / "templates.json",
                    OUTBOX_RATE_PER_S=0)


@pytest.fixture
def trainee_id(app):
    return factories.trainee(app, phone=PHONE, id_card=ID_CARD, openid=OLD)


def phone_of(app, fake_wechat, openid: str, path: str = "/h5/bind"):
    client = app.test_client()
    login(client, fake_wechat, openid, path)
    return client


@pytest.fixture
def new_phone(app, fake_wechat, trainee_id):
    return phone_of(app, fake_wechat, NEW)


def token(client, path: str = "/h5/bind") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def bind_try(client, phone=PHONE, id_card=ID_CARD):
    return client.post("/h5/bind", data={"phone": phone, "id_card": id_card, "csrf_token": token(client)})


def ask_code(client):
    return client.post("/h5/bind/move/code", data={"csrf_token": token(client)})


def send_code(client, code: str):
    return client.post("/h5/bind/move", data={"code": code, "csrf_token": token(client)})


def last_code(redis) -> str:
    texts = [e for e in sms_sent(redis) if e.body.get("template_code") == "SMS_MOVE_CODE"]
    return texts[0].body["params"]["code"]


def holder(app, trainee_id):
    with app.app_context():
        return db.session.scalar(select(WechatUser.openid).where(WechatUser.trainee_id == trainee_id))


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def test_bind_offers_the_move_when_phone_and_id_match_a_trainee_bound_elsewhere(new_phone, app, trainee_id):
    r = bind_try(new_phone)
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "该学员已绑定其他微信" in page and "更换绑定的微信" in page
    assert 'action="/h5/bind/move/code"' in page and "139****0001" in page and PHONE not in page
    assert holder(app, trainee_id) == OLD


def test_the_right_code_moves_the_binding_stops_the_old_page_and_logs_both(app, fake_wechat, new_phone, trainee_id,
                                                                           redis):
    lesson_id = lesson(app, duration_s=300)
    old_phone = phone_of(app, fake_wechat, OLD, f"/h5/lesson/{lesson_id}")
    page = old_phone.get(f"/h5/lesson/{lesson_id}").get_data(as_text=True)
    tab = re.search(r'data-tab="([^"]+)"', page).group(1)
    beat = {"lesson_id": lesson_id, "position": 0, "tab": tab, "state": "playing"}
    assert old_phone.post("/api/play/heartbeat", json=beat).status_code == 200

    bind_try(new_phone)
    r = ask_code(new_phone)
    assert r.status_code == 200 and "验证码已发送" in r.get_data(as_text=True) and 'name="code"' in r.get_data(as_text=True)
    sms = [e for e in sms_sent(redis) if e.body.get("template_code") == "SMS_MOVE_CODE"]
    assert len(sms) == 1 and sms[0].body["phone"] == "139****0001"  # the roster phone, sent at once
    assert re.fullmatch(r"\d{6}", last_code(redis))

    r = send_code(new_phone, last_code(redis))
    assert r.status_code == 303 and r.headers["Location"].endswith("/h5/learn")
    assert holder(app, trainee_id) == NEW
    assert new_phone.get("/h5/learn").status_code == 200
    assert old_phone.post("/api/play/heartbeat", json={**beat, "position": 5}).json == {"error": "closed"}
    assert old_phone.get("/h5/learn").status_code == 302  # the old WeChat is bound to nobody now
    with app.app_context():
        rows = db.session.execute(select(BindingLog.action, BindingLog.openid, BindingLog.note)
                                  .where(BindingLog.reason == rebind.SELF_MOVE).order_by(BindingLog.id)).all()
    assert [tuple(r) for r in rows] == [("unbound", OLD, "自助更换"), ("bound", NEW, "自助更换")]


def test_the_old_wechat_is_told_the_account_moved(app, fake_wechat, new_phone, trainee_id, redis):
    bind_try(new_phone)
    ask_code(new_phone)
    send_code(new_phone, last_code(redis))
    sends = [c.json for c in fake_wechat.calls("cgi-bin/message/template/send")]
    assert [s["touser"] for s in sends] == [OLD] and sends[0]["template_id"] == "tmpl-moved"
    assert "新微信" in str(sends[0]["data"])
    with app.app_context():
        kinds = set(db.session.scalars(select(Notice.kind).join(OutboxMessage)
                                       .where(OutboxMessage.state == "sent")))
    assert kinds == {"move_code", "binding_moved"}


def test_without_a_wechat_template_the_old_wechat_word_goes_by_sms(make_app, fake_wechat, redis_url):
    app = make_app(WECHAT_API_BASE=fake_wechat.base_url, OUTBOX_RATE_PER_S=0)
    factories.trainee(app, phone=PHONE, id_card=ID_CARD, openid=OLD)
    client = phone_of(app, fake_wechat, NEW)
    bind_try(client)
    ask_code(client)
    redis = app.extensions["redis"]
    assert send_code(client, last_code(redis)).status_code == 303
    moved = [e for e in sms_sent(redis) if e.body.get("template_code") == "SMS_BINDING_MOVED"]
    assert len(moved) == 1 and moved[0].body["phone"] == "139****0001"


def test_five_wrong_codes_end_the_code(app, new_phone, trainee_id, redis):
    bind_try(new_phone)
    ask_code(new_phone)
    code = last_code(redis)
    for left in range(rebind.MAX_WRONG - 1, 0, -1):
        r = send_code(new_phone, wrong(code))
        assert r.status_code == 400 and f"还可再试{left}次" in r.get_data(as_text=True)
    r = send_code(new_phone, wrong(code))
    assert r.status_code == 400 and "连续输错5次" in r.get_data(as_text=True)
    r = send_code(new_phone, code)  # the right one, too late
    assert r.status_code == 400 and holder(app, trainee_id) == OLD


def test_an_expired_code_is_refused(app, new_phone, trainee_id, redis):
    bind_try(new_phone)
    ask_code(new_phone)
    redis.hset(keys.move_code(trainee_id), "expires", 1)  # as if five minutes had passed
    r = send_code(new_phone, last_code(redis))
    assert r.status_code == 400 and "验证码已失效" in r.get_data(as_text=True)
    assert holder(app, trainee_id) == OLD


def test_a_code_is_used_once_and_only_by_the_wechat_it_was_sent_for(app, fake_wechat, new_phone, trainee_id, redis):
    bind_try(new_phone)
    ask_code(new_phone)
    code = last_code(redis)
    third = phone_of(app, fake_wechat, "oThirdWechat00000000000001")
    bind_try(third)
    assert send_code(third, code).status_code == 400 and holder(app, trainee_id) == OLD
    assert send_code(new_phone, code).status_code == 303
    assert holder(app, trainee_id) == NEW


def test_codes_are_limited_to_one_a_minute_and_five_a_day(app, new_phone, trainee_id, redis):
    bind_try(new_phone)
    assert ask_code(new_phone).status_code == 200
    r = ask_code(new_phone)
    assert r.status_code == 400 and "1分钟后" in r.get_data(as_text=True)
    for _ in range(rebind.CODES_PER_DAY - 1):
        redis.delete(keys.move_code_gap(trainee_id))  # a minute later
        assert ask_code(new_phone).status_code == 200
    redis.delete(keys.move_code_gap(trainee_id))
    r = ask_code(new_phone)
    assert r.status_code == 400 and "今天获取验证码已达5次" in r.get_data(as_text=True)
    assert len([e for e in sms_sent(redis) if e.body.get("template_code") == "SMS_MOVE_CODE"]) == 5


def test_a_locked_wechat_gets_no_code_and_cannot_move(app, new_phone, trainee_id, redis):
    bind_try(new_phone)
    redis.set(keys.bind_lock("openid", NEW), 1, ex=60)
    r = ask_code(new_phone)
    assert r.status_code == 400 and "尝试次数过多" in r.get_data(as_text=True)
    assert sms_sent(redis) == []


def test_wrong_codes_count_as_wrong_binding_tries_of_the_wechat(app, new_phone, trainee_id, redis):
    bind_try(new_phone)
    ask_code(new_phone)
    code = last_code(redis)
    for _ in range(binding.LIMITS["openid"]):
        send_code(new_phone, wrong(code))
    assert redis.exists(keys.bind_lock("openid", NEW))


def test_the_move_posts_need_the_matched_pair_first(app, new_phone, trainee_id, redis):
    r = ask_code(new_phone)  # no 认证登录 that matched: no ticket
    assert r.status_code == 400 and "已过期" in r.get_data(as_text=True)
    bind_try(new_phone, id_card="11010519491231002X")  # a mismatch earns no ticket either
    assert ask_code(new_phone).status_code == 400 and sms_sent(redis) == []
    assert send_code(new_phone, "123456").status_code == 400 and holder(app, trainee_id) == OLD


def test_a_mismatch_gets_the_one_answer_with_no_move_offer(app, new_phone, trainee_id):
    for phone, card in (("13900000000", ID_CARD), (PHONE, "11010519491231002X")):
        page = bind_try(new_phone, phone, card).get_data(as_text=True)
        assert binding.MISMATCH in page and "更换绑定的微信" not in page


def test_a_trainee_bound_nowhere_binds_as_before(app, fake_wechat):
    tid = factories.trainee(app, phone=PHONE, id_card=ID_CARD)
    client = phone_of(app, fake_wechat, NEW)
    r = bind_try(client)
    assert r.status_code == 303 and r.headers["Location"].endswith("/h5/learn")
    assert holder(app, tid) == NEW
    with app.app_context():
        assert db.session.scalars(select(BindingLog.reason).where(BindingLog.action == "bound")).all() == [""]


def test_the_code_form_asks_for_digits_and_says_what_to_do_when_the_phone_changed(new_phone, trainee_id, redis):
    bind_try(new_phone)
    page = ask_code(new_phone).get_data(as_text=True)
    assert 'inputmode="numeric"' in page and "经办人" in page and "致电学校" in page
    r = send_code(new_phone, "12ab")
    assert r.status_code == 400 and "6位数字验证码" in r.get_data(as_text=True)


def test_staff_see_the_move_in_the_trainees_binding_history(app, new_phone, trainee_id, redis):
    from tests.admin.conftest import console_on

    bind_try(new_phone)
    ask_code(new_phone)
    send_code(new_phone, last_code(redis))
    page = console_on(app).text(f"/admin/trainees/{trainee_id}")
    assert "解绑（学员自助：自助更换）" in page and "认证绑定（自助更换）" in page
    shown = app.test_cli_runner().invoke(args=["trainee", "show", PHONE]).output
    assert "学员自助：自助更换" in shown and re.search(r"认证绑定（微信 [^，）]+，自助更换）", shown)


def test_the_code_is_neither_logged_nor_left_in_the_outbox(app, new_phone, trainee_id, redis, caplog):
    import logging

    with caplog.at_level(logging.DEBUG):
        bind_try(new_phone)
        ask_code(new_phone)
    code = last_code(redis)
    assert code not in caplog.text and PHONE not in caplog.text
    with app.app_context():
        kept = db.session.scalars(select(OutboxMessage.params).join(Notice).where(Notice.kind == "move_code")).all()
    assert kept == [{"code": "******"}]
    assert send_code(new_phone, code).status_code == 303  # the code itself still works
