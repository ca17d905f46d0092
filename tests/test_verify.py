"""Public verification of a certificate, /verify/<number> (CONTRACT §8): no session, masked, limited."""
from __future__ import annotations

import re

import pytest

from tests import factories
from tests.completion_util import cancel, complete

ID_CARD = "320505198001010017"
PHONE = "13912340001"


@pytest.fixture
def owner(app):
    return factories.trainee(app, name="张三丰", phone=PHONE, id_card=ID_CARD)


def visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_genuine_certificate_shows_masked_name_and_id_major_hours_date(app, client, owner):
    number = complete(app, owner, major="机电工程")
    r = client.get(f"/verify/{number}")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "学时证明真实有效" in page and "张**" in page and "3205**********0017" in page
    assert "机电工程" in page and "共 60 学时" in page and "公共课 16" in page and "专业课 40" in page
    assert "考试 4" in page and "2027年3月20日" in page and number in page
    assert "张三丰" not in page and ID_CARD not in page and PHONE not in page and "1391234" not in page
    assert r.headers["Cache-Control"] == "no-cache" and r.headers["Referrer-Policy"] == "no-referrer"


def test_number_typed_in_lower_case_still_verifies(app, client, owner):
    number = complete(app, owner)
    assert client.get(f"/verify/{number.lower()}").status_code == 200


def test_cancelled_certificate_says_so(app, client, owner):
    number = complete(app, owner, attempt_id=3)
    cancel(app, 3)
    r = client.get(f"/verify/{number}")
    page = visible_text(r.get_data(as_text=True))
    assert r.status_code == 200
    assert "此学时证明已作废" in page and "2027年4月2日作废" in page and "真实有效" not in page


@pytest.mark.parametrize("number", ["ABCDEFGHJKMN", "0000", "x" * 300, "%3Cscript%3E"])
def test_unknown_number_is_a_404_page_saying_so(app, client, owner, number):
    complete(app, owner)
    r = client.get(f"/verify/{number}")
    assert r.status_code == 404
    page = r.get_data(as_text=True)
    assert "查无此学时证明" in page and "张*" not in page and "3205" not in page
    assert "<script>" not in page


def test_verification_is_rate_limited_per_address(make_app):
    app = make_app(VERIFY_RATE_LIMIT="5 per minute")
    client = app.test_client()
    codes = [client.get("/verify/ABCDEFGHJKMN").status_code for _ in range(6)]
    assert codes == [404] * 5 + [429]
    assert "操作过于频繁" in client.get("/verify/ABCDEFGHJKMN").get_data(as_text=True)
    other = client.get("/verify/ABCDEFGHJKMN", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 404  # another address has its own count


def test_a_bad_rate_limit_setting_stops_the_start(make_app):
    with pytest.raises(SystemExit):
        make_app(VERIFY_RATE_LIMIT="lots")
