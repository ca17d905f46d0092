"""认证登录 under a classroom's shared Wi-Fi, parallel guessing, hostile input and expired forms."""
from __future__ import annotations

import re
import threading
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from models import BindingLog, db
from services import keys
from services.identity import binding
from tests import factories
from tests.h5.oauth_util import login
from tests.h5.test_bind import ID_CARD, OPENID, PHONE, bound_trainee_of, csrf_token, submit

WRONG_ID = "11010519491231002X"  # valid checksum, on no roster


@pytest.fixture
def app(make_app, fake_wechat):
    return make_app(WECHAT_API_BASE=fake_wechat.base_url, SCHOOL_PHONE="0512-6888 8888")


@pytest.fixture
def trainee_id(app):
    return factories.trainee(app, phone=PHONE, id_card=ID_CARD)


@pytest.fixture
def browser(app, fake_wechat):
    client = app.test_client()
    login(client, fake_wechat, OPENID, "/h5/bind")
    return client


def classmate(app, fake_wechat, n: int):
    client = app.test_client()
    login(client, fake_wechat, f"oClassmate{n:017d}", "/h5/bind")
    return client


def reasons(app) -> list[str]:
    with app.app_context():
        return [e.reason for e in db.session.query(BindingLog).order_by(BindingLog.id)]


def form_error(page: str) -> str:
    found = re.search(r'id="error-form">([^<]+)<', page)
    return found.group(1).strip() if found else ""


def test_any_mismatch_gets_the_same_answer_whichever_number_is_wrong(browser, app, trainee_id):
    factories.trainee(app, name="吴二", phone="13912340002", id_card="32058319751212108X")
    answers = {form_error(submit(browser, phone, id_card).get_data(as_text=True))
               for phone, id_card in [("13900000000", ID_CARD), ("13900000000", WRONG_ID), (PHONE, WRONG_ID),
                                      ("13912340002", ID_CARD)]}
    assert len(answers) == 1
    (answer,) = answers
    assert "请核对两个号码" in answer and "报名时预留" in answer and "经办人" in answer and "致电学校" in answer
    # The last try named two trainees (吴二's phone, the other's ID card): logged for both.
    assert reasons(app) == ["phone_mismatch", "unknown_phone", "id_mismatch", "phone_mismatch", "id_mismatch"]


def test_a_mismatch_shows_the_schools_phone_as_a_tel_link(browser, trainee_id):
    page = submit(browser, PHONE, WRONG_ID).get_data(as_text=True)
    error = re.search(r'id="error-form">(.*?)</div>', page, re.S).group(1)
    assert '<a class="tel" href="tel:051268888888">0512-6888 8888</a>' in error


def test_without_a_school_phone_no_tel_link(make_app, fake_wechat):
    app = make_app(WECHAT_API_BASE=fake_wechat.base_url)
    client = app.test_client()
    login(client, fake_wechat, OPENID, "/h5/bind")
    page = submit(client, PHONE, WRONG_ID).get_data(as_text=True)
    assert "请核对两个号码" in page and "tel:" not in page


def test_three_classmates_mistyping_on_one_wifi_do_not_lock_the_room(app, fake_wechat, trainee_id):
    for n in range(3):
        client = classmate(app, fake_wechat, n)
        for _ in range(binding.LIMITS["openid"]):
            assert submit(client, PHONE, WRONG_ID).status_code == 400
    late = classmate(app, fake_wechat, 99)
    r = submit(late, PHONE, ID_CARD)
    assert r.status_code == 303, form_error(r.get_data(as_text=True))


def test_the_route_limit_is_a_machine_guard_not_a_class_limit(app, fake_wechat, trainee_id):
    statuses = set()
    for n in range(8):  # 8 WeChats × 5 posts = 40 posts from one address within a minute
        client = classmate(app, fake_wechat, n)
        token = csrf_token(client)
        for _ in range(5):
            statuses.add(client.post("/h5/bind", data={"phone": "123", "id_card": "", "csrf_token": token}).status_code)
    assert statuses == {400}


def test_an_address_is_locked_only_past_hundreds_of_wrong_tries():
    assert binding.LIMITS["openid"] == 5 and binding.LIMITS["ip"] >= 200


def test_25_parallel_wrong_tries_from_one_wechat_reach_the_roster_at_most_5_times(app, trainee_id):
    cipher, redis = app.extensions["pii"], app.extensions["redis"]
    start = threading.Barrier(25)
    errors: list[BaseException] = []

    def one_try(n: int) -> None:
        with app.app_context():
            start.wait()
            try:
                binding.bind(db.session, redis, cipher, binding.Attempt(OPENID, f"10.0.{n}.1", PHONE, WRONG_ID))
            except binding.BindRefused:
                pass
            except BaseException as exc:  # noqa: BLE001 (reported below)
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=one_try, args=(n,)) for n in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    seen = reasons(app)
    assert len(seen) == 25
    assert seen.count("id_mismatch") == binding.LIMITS["openid"]
    assert seen.count("locked") == 25 - binding.LIMITS["openid"]
    assert redis.exists(keys.bind_lock("openid", OPENID))


def test_a_bind_gives_its_count_back(app, trainee_id):
    cipher, redis = app.extensions["pii"], app.extensions["redis"]
    with app.app_context():
        for _ in range(4):
            with pytest.raises(binding.BindRefused):
                binding.bind(db.session, redis, cipher, binding.Attempt(OPENID, "10.1.1.1", PHONE, WRONG_ID))
        assert int(redis.get(keys.bind_failures("ip", "10.1.1.1"))) == 4
        binding.bind(db.session, redis, cipher, binding.Attempt(OPENID, "10.1.1.1", PHONE, ID_CARD))
    assert int(redis.get(keys.bind_failures("ip", "10.1.1.1"))) == 4  # the bind itself counted nothing
    assert not redis.exists(keys.bind_failures("openid", OPENID))


def test_trainee_unlock_lifts_the_locks_of_every_wechat_that_tried_this_trainee(app, fake_wechat, trainee_id, redis):
    tried = [classmate(app, fake_wechat, n) for n in range(2)]
    for client in tried:
        for _ in range(binding.LIMITS["openid"]):
            submit(client, "13900000000", ID_CARD)  # the trainee's ID card under a wrong phone: known to be for them
    stranger = classmate(app, fake_wechat, 7)
    for _ in range(binding.LIMITS["openid"]):
        submit(stranger, "13900000000", WRONG_ID)  # a try for nobody known
    assert "尝试次数过多" in submit(tried[0], PHONE, ID_CARD).get_data(as_text=True)

    result = app.test_cli_runner().invoke(args=["trainee", "unlock", PHONE])
    assert result.exit_code == 0, result.output
    assert "尝试过认证的微信 2 个" in result.output and PHONE not in result.output

    assert submit(tried[1], PHONE, ID_CARD).status_code == 303
    assert redis.exists(keys.bind_lock("openid", "oClassmate00000000000000007"))
    assert "尝试次数过多" in submit(stranger, PHONE, ID_CARD).get_data(as_text=True)


def test_trainee_unlock_by_id_card_and_unknown_trainee(app, trainee_id):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["trainee", "unlock", ID_CARD])
    assert result.exit_code == 0 and "无需解除锁定" in result.output and ID_CARD not in result.output
    result = runner.invoke(args=["trainee", "unlock", "13000000000"])
    assert result.exit_code == 1 and "没有手机号为 130****0000 的学员" in result.output


@pytest.mark.parametrize("typed", [ID_CARD + "1", ID_CARD + "12", ID_CARD + "123", "3" * 200, "１２３" * 30])
def test_an_overlong_id_card_is_a_field_error_not_a_500(browser, app, trainee_id, typed):
    r = submit(browser, PHONE, typed)
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "18位" in re.search(r'id="error-id_card">([^<]+)<', page).group(1)
    with app.app_context():
        masks = [e.id_card_mask for e in db.session.query(BindingLog)]
    assert len(masks) == 1 and len(masks[0]) <= 18


@pytest.mark.parametrize("id_card", [ID_CARD, WRONG_ID, "32050519800101001", "320505198001010018", ID_CARD + "12"])
def test_a_failed_bind_never_echoes_the_id_card(browser, trainee_id, id_card):
    page = submit(browser, "13900000000" if id_card == ID_CARD else PHONE, id_card).get_data(as_text=True)
    assert id_card not in page and id_card[:17] not in page
    assert 'id="hint-id_card"' in page  # the masked hint instead
    assert 'value="13900000000"' in page or f'value="{PHONE}"' in page  # the phone stays typed


def test_hostile_form_values_answer_400_not_500(browser, trainee_id):
    token = csrf_token(browser)
    for phone, id_card in [("1" * 100_000, ID_CARD), ("<script>", "</textarea>"), ("\x00\x01", "\ud7ff"),
                           ("+86 139 1234 0001", "32050519800101001７" * 3)]:
        r = browser.post("/h5/bind", data={"phone": phone, "id_card": id_card, "csrf_token": token})
        assert r.status_code == 400
        assert "<script>" not in r.get_data(as_text=True)


def _old_token(app, client, age_s: int) -> str:
    """A form token signed `age_s` ago for this browser's session (what a page left open carries)."""
    csrf_token(client)  # the session gets its raw token
    with client.session_transaction() as session:
        raw = session["csrf_token"]

    class Then(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_s

    serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token", signer=Then)
    return serializer.dumps(raw)


def test_a_form_left_open_for_hours_still_binds(browser, app, trainee_id):
    token = _old_token(app, browser, 5 * 3600)
    r = browser.post("/h5/bind", data={"phone": PHONE, "id_card": ID_CARD, "csrf_token": token})
    assert r.status_code == 303 and bound_trainee_of(app) == trainee_id


def test_an_invalid_token_answers_the_styled_form_with_the_phone_kept(browser, app, trainee_id):
    r = browser.post("/h5/bind", data={"phone": PHONE, "id_card": ID_CARD, "csrf_token": "forged"})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "已过期" in form_error(page) and 'class="weui-form"' in page and "weui.min.css" in page
    assert f'value="{PHONE}"' in page and ID_CARD not in page
    fresh = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    again = browser.post("/h5/bind", data={"phone": PHONE, "id_card": ID_CARD, "csrf_token": fresh})
    assert again.status_code == 303 and bound_trainee_of(app) == trainee_id


def test_an_https_form_post_without_a_referer_is_accepted(app, fake_wechat, trainee_id):
    """The attendance page sends no Referer (its token must not leak) and WeChat's browser may drop
    it: over HTTPS, Flask-WTF's strict referrer check would refuse every such form as expired."""
    client = app.test_client()
    login(client, fake_wechat, OPENID, "/h5/bind")
    token = csrf_token(client)
    r = client.post("/h5/bind", base_url="https://localhost",
                    data={"phone": PHONE, "id_card": ID_CARD, "csrf_token": token})
    assert r.status_code == 303 and bound_trainee_of(app) == trainee_id
