"""A trainee's page lists the WeChats locked while trying to bind this trainee, with 解除锁定."""
from __future__ import annotations

import pytest

from models import db
from services.identity import binding
from services.identity.pii import short_openid
from tests import factories
from tests.notify_util import id_card, phone


def _try(app, openid: str, typed_phone: str, typed_id: str) -> None:
    with app.app_context():
        with pytest.raises(binding.BindRefused):
            binding.bind(db.session, app.extensions["redis"], app.extensions["pii"],
                         binding.Attempt(openid, "10.0.0.8", typed_phone, typed_id))


def test_trainee_page_lists_the_locked_wechats_and_lifts_them(app, console):
    mine = factories.trainee(app, phone=phone(1), id_card=id_card(1))
    other = factories.trainee(app, name="吴二", phone=phone(2), id_card=id_card(2))
    for _ in range(binding.LIMITS["openid"]):
        _try(app, "oGuesser", phone(1), id_card(2))  # my phone, the other's ID card
    _try(app, "oOnce", "13900000000", id_card(1))  # one wrong try: not locked
    tag = short_openid("oGuesser")
    for trainee in (mine, other):  # the mixed try counts for both
        page = console.text(f"/admin/trainees/{trainee}")
        assert "认证被锁定的微信（1）" in page and tag in page and "5 次" in page
        assert short_openid("oOnce") not in page and "分钟后自动解除" in page
        assert phone(1) not in page and id_card(2) not in page
    page = console.post(f"/admin/trainees/{mine}/unlock", follow_redirects=True).get_data(as_text=True)
    assert "已解除认证锁定" in page and "没有因认证此学员而被锁定的微信" in page and "解除锁定" in page
    assert tag not in console.text(f"/admin/trainees/{other}").split('id="locks"')[1].split("</div>")[0]
