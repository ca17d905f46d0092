"""Pages that used to leave a trainee stranded: an expired form keeps what was typed (never the ID card)
and offers to try again; 404 and 500 lead back to 在线学习 and name the school's phone."""
from __future__ import annotations

import re

import pytest

from tests import factories
from tests.h5.oauth_util import authorize_params, login
from tests.h5.test_exercise_page import QUESTIONS, video_done
from tests.study_util import lesson

OPENID = "oStrandedUser0000000000001"
PHONE, ID_CARD = "13912340001", "320505198001010017"
SCHOOL = "0512-6888 8888"


@pytest.fixture
def app(make_app, fake_wechat):
    app = make_app(WECHAT_API_BASE=fake_wechat.base_url, SCHOOL_PHONE=SCHOOL)

    def boom():
        raise RuntimeError("a bug")

    app.add_url_rule("/h5/boom", "boom", boom)
    return app


def come_back(client, fake_wechat, response, openid=OPENID):
    """Follows the expired page's 重新填写 through a fresh WeChat login, as the phone would."""
    href = re.search(r'id="expired-retry" href="([^"]+)"', response.get_data(as_text=True)).group(1)
    params = authorize_params(client.get(href))
    back = client.get("/h5/oauth", query_string={"code": fake_wechat.oauth_code(openid), "state": params["state"]})
    assert back.status_code == 302 and back.headers["Location"] == href
    return client.get(href)


def test_a_bind_form_whose_session_ended_keeps_the_phone_never_the_id_card(app, fake_wechat):
    factories.trainee(app, phone=PHONE, id_card=ID_CARD)
    client = app.test_client()  # the session (and its form token) is gone: a new browser day
    expired = client.post("/h5/bind", data={"phone": PHONE, "id_card": ID_CARD, "csrf_token": "stale"})
    page = expired.get_data(as_text=True)
    assert expired.status_code == 400 and "页面已过期" in page and "重新填写" in page
    assert "已保留" in page and "身份证号除外" in page
    assert ID_CARD not in page and PHONE not in page and ID_CARD not in expired.headers.get("Set-Cookie", "")
    form = come_back(client, fake_wechat, expired).get_data(as_text=True)
    assert f'value="{PHONE}"' in form and ID_CARD not in form and "页面停留时间过长" in form
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    done = client.post("/h5/bind", data={"phone": PHONE, "id_card": ID_CARD, "csrf_token": token})
    assert done.status_code == 303 and done.headers["Location"].endswith("/h5/learn")


def test_an_exercise_refused_as_expired_opens_again_with_the_choices_kept(app, fake_wechat):
    lesson_id = lesson(app, duration_s=300, hours=2, questions=QUESTIONS)
    trainee_id = factories.trainee(app, openid=OPENID)
    client = app.test_client()
    login(client, fake_wechat, OPENID)
    video_done(app, trainee_id, lesson_id)
    page = client.get(f"/h5/lesson/{lesson_id}/exercise").get_data(as_text=True)
    first, second = sorted(set(re.findall(r'name="(q\d+)"', page)), key=page.index)
    path = f"/h5/lesson/{lesson_id}/exercise"

    refused = client.post(path, data={"csrf_token": "stale", first: "C", second: ["A", "B"]})
    assert refused.status_code == 303 and refused.headers["Location"].endswith(path)
    again = client.get(path).get_data(as_text=True)
    assert "您选的答案已保留" in again and 'value="C" checked' in again
    assert 'value="A" checked' in again and 'value="B" checked' in again and "交卷" in again
    assert "您选的答案已保留" not in client.get(path).get_data(as_text=True)  # once

    stranger = app.test_client()  # the whole session ended: the page says so and offers to try again
    expired = stranger.post(path, data={"csrf_token": "stale", first: "B", second: ["C"]})
    assert expired.status_code == 400 and "重新填写" in expired.get_data(as_text=True)
    kept = come_back(stranger, fake_wechat, expired).get_data(as_text=True)
    assert 'value="B" checked' in kept and 'value="C" checked' in kept and "您选的答案已保留" in kept


@pytest.mark.parametrize("path,status", [("/h5/no-such-page", 404), ("/h5/boom", 500)])
def test_404_and_500_lead_back_to_learning_and_name_the_school_phone(app, path, status):
    response = app.test_client().get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert 'id="back-learn" href="/h5/learn"' in page and "返回在线学习" in page
    assert SCHOOL in page and 'href="tel:' in page and "Traceback" not in page
