"""A 认证登录 try that names two trainees (one's phone, another's ID card) counts as a try for both:
`trainee unlock` lifts its lock whichever of the two numbers the trainee gives staff."""
from __future__ import annotations

import pytest

from models import BindingLog, db
from services import keys
from services.identity import binding
from tests import factories
from tests.h5.test_bind import ID_CARD, PHONE, submit
from tests.h5.test_bind_hold import classmate

OTHER_PHONE, OTHER_ID = "13912340002", "32058319751212108X"


@pytest.fixture
def app(make_app, fake_wechat):
    return make_app(WECHAT_API_BASE=fake_wechat.base_url)


@pytest.fixture
def pair(app):
    """Two trainees: the one whose phone is typed, and the one whose ID card is typed."""
    return (factories.trainee(app, phone=PHONE, id_card=ID_CARD),
            factories.trainee(app, name="吴二", phone=OTHER_PHONE, id_card=OTHER_ID))


def _lock_with_mixed_numbers(app, fake_wechat, redis):
    client = classmate(app, fake_wechat, 3)
    for _ in range(binding.LIMITS["openid"]):
        submit(client, PHONE, OTHER_ID)  # the first trainee's phone with the second's ID card
    openid = "oClassmate00000000000000003"
    assert redis.exists(keys.bind_lock("openid", openid))
    return client, openid


@pytest.mark.parametrize("given", [PHONE, ID_CARD, OTHER_PHONE, OTHER_ID])
def test_unlock_lifts_a_mixed_try_whichever_number_the_trainee_gives(app, fake_wechat, redis, pair, given):
    client, openid = _lock_with_mixed_numbers(app, fake_wechat, redis)
    result = app.test_cli_runner().invoke(args=["trainee", "unlock", given])
    assert result.exit_code == 0, result.output
    assert "尝试过认证的微信 1 个" in result.output
    assert not redis.exists(keys.bind_lock("openid", openid))
    assert submit(client, PHONE, ID_CARD).status_code == 303  # the phone's owner binds at once


def test_the_try_is_logged_for_both_trainees_with_the_reason_each_sees(app, fake_wechat, redis, pair):
    phone_owner, card_owner = pair
    submit(classmate(app, fake_wechat, 4), PHONE, OTHER_ID)
    with app.app_context():
        rows = {(e.trainee_id, e.reason) for e in db.session.query(BindingLog).filter_by(action="refused")}
    assert rows == {(card_owner, "phone_mismatch"), (phone_owner, "id_mismatch")}
    assert int(redis.get(keys.bind_failures("openid", "oClassmate00000000000000004"))) == 1  # one try, counted once
