"""Trainees in the console: search (name, phone, company, ID card by hash), pages, the trainee's
page, recorded edits, unbind, and the admin-only recorded reveal of the full ID card."""
from __future__ import annotations

import pytest

from models import AuditEntry, BindingLog, Trainee, WechatUser, db
from tests import factories
from tests.notify_util import id_card, phone


@pytest.fixture
def people(app):
    ids = [factories.trainee(app, name=f"张{n:02d}", phone=phone(n), id_card=id_card(n)) for n in range(1, 56)]
    ids.append(factories.trainee(app, name="李梅", phone=phone(99), id_card=id_card(99), openid="oLiMei"))
    with app.app_context():
        db.session.query(Trainee).filter_by(id=ids[-1]).update({"company": "常州路桥工程有限公司"})
        db.session.commit()
    return ids


def search(console, q, **extra):
    response = console.post("/admin/trainees", data={"q": q, **extra})
    return response


def test_search_by_name_phone_company_and_id_card(console, people):
    assert "李梅" in console.text("/admin/trainees?q=李")  # CONTRACT §9: GET ?q= by name
    assert "李梅" in search(console, "常州路桥").get_data(as_text=True)
    by_phone = search(console, phone(99))
    assert by_phone.status_code == 302 and by_phone.headers["Location"] == f"/admin/trainees/{people[-1]}"
    by_card = search(console, id_card(99).lower())
    assert by_card.status_code == 302 and by_card.headers["Location"] == f"/admin/trainees/{people[-1]}"
    assert "没有找到学员" in search(console, id_card(98)).get_data(as_text=True)
    prefix = search(console, phone(99)[:10])  # a phone's first digits: one match opens it
    assert prefix.headers["Location"] == f"/admin/trainees/{people[-1]}"
    several = search(console, phone(1)[:10]).get_data(as_text=True)
    assert "张01" in several and "张09" in several and "张10" not in several
    htmx = console.post("/admin/trainees", data={"q": id_card(99)}, headers={"HX-Request": "true"})
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"] == f"/admin/trainees/{people[-1]}"


def test_list_is_paginated_on_the_server_and_masked(console, people):
    first = console.text("/admin/trainees?q=张")
    assert first.count("/admin/trainees/") == 50 and "第 1 / 2 页，共 55 条" in first
    assert phone(1) not in first and "139****0001" in first
    second = console.text("/admin/trainees?q=张&page=2")
    assert second.count("/admin/trainees/") == 5 and "张55" in second
    posted = search(console, "张", page="2").get_data(as_text=True)
    assert posted.count("/admin/trainees/") == 5 and 'name="page" value="1"' in posted
    assert console.get("/admin/trainees?page=abc").status_code == 200


def test_htmx_search_answers_the_rows_only(console, people):
    fragment = console.post("/admin/trainees", data={"q": "李"}, headers={"HX-Request": "true"})
    assert "李梅" in fragment.get_data(as_text=True) and "<html" not in fragment.get_data(as_text=True)


def test_filters_by_state_and_unknown_class(console, people):
    bound = console.text("/admin/trainees?state=bound")
    assert "李梅" in bound and "张01" not in bound
    assert "班级 NOPE 不存在" in console.text("/admin/trainees?class=NOPE")


def test_trainee_page_shows_everything_masked(app, console, people):
    page = console.text(f"/admin/trainees/{people[-1]}")
    assert "李梅" in page and "建筑工程" in page and "主项" in page and "已绑定" in page and "解绑" in page
    assert id_card(99) not in page and phone(99) not in page
    assert "查看完整号码" not in page  # staff, not admin
    assert console.get("/admin/trainees/999999").status_code == 404


def test_edit_phone_and_company_is_recorded_masked(app, console, people):
    tid = people[0]
    console.post(f"/admin/trainees/{tid}/edit", data={"phone": "13800001111", "company": "新单位"})
    with app.app_context():
        trainee = db.session.get(Trainee, tid)
        assert (trainee.phone, trainee.company) == ("13800001111", "新单位")
        entry = db.session.query(AuditEntry).filter_by(action="trainee_edited").one()
        assert "138****1111" in entry.detail and "13800001111" not in entry.detail and "新单位" in entry.detail
    console.post(f"/admin/trainees/{tid}/edit", data={"phone": "", "company": "新单位"})
    assert "内容未变" in console.text(f"/admin/trainees/{tid}")
    console.post(f"/admin/trainees/{tid}/edit", data={"phone": "12345", "company": "x"})
    assert "11位" in console.text(f"/admin/trainees/{tid}")
    with app.app_context():
        assert db.session.get(Trainee, tid).company == "新单位"


def test_unbind_needs_a_reason_and_is_recorded(app, console, people):
    tid = people[-1]
    console.post(f"/admin/trainees/{tid}/unbind", data={"reason": " "})
    assert "请填写解绑原因" in console.text(f"/admin/trainees/{tid}")
    response = console.post(f"/admin/trainees/{tid}/unbind", data={"reason": "学员更换手机"})
    assert response.status_code == 302
    page = console.text(f"/admin/trainees/{tid}")
    assert "已解绑微信" in page and "学员更换手机" in page
    with app.app_context():
        assert db.session.query(WechatUser).filter_by(trainee_id=tid).count() == 0
        log = db.session.query(BindingLog).filter_by(action="unbound").one()
        assert (log.actor, log.note) == ("wang", "学员更换手机")
        assert db.session.query(AuditEntry).filter_by(action="trainee_unbound").count() == 1
    console.post(f"/admin/trainees/{tid}/unbind", data={"reason": "again"})
    assert "尚未绑定微信" in console.text(f"/admin/trainees/{tid}")


def test_only_an_admin_reveals_the_id_card_and_it_is_recorded(app, console, admin_console, people):
    tid = people[-1]
    assert console.post(f"/admin/trainees/{tid}/reveal").status_code == 403
    assert "查看完整号码" in admin_console.text(f"/admin/trainees/{tid}")
    assert admin_console.get(f"/admin/trainees/{tid}/reveal").status_code == 405
    fragment = admin_console.post(f"/admin/trainees/{tid}/reveal", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and id_card(99) in fragment.get_data(as_text=True)
    with app.app_context():
        [entry] = db.session.query(AuditEntry).filter_by(action="id_card_revealed").all()
        assert entry.actor == "chen" and entry.target == f"trainee:{tid}" and id_card(99) not in entry.detail


@pytest.mark.parametrize("state, words", [(True, "已关注公众号"), (False, "已取消关注（通知改发短信）"),
                                          (None, "关注状态未知")])
def test_trainee_page_says_what_is_known_of_the_following(app, console, people, state, words):
    tid = people[-1]
    with app.app_context():
        db.session.query(WechatUser).filter_by(trainee_id=tid).update({"subscribed": state})
        db.session.commit()
    page = console.text(f"/admin/trainees/{tid}")
    assert words in page
    assert "未关注公众号" not in page  # the old words, which an unknown state was shown as
