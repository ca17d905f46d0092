"""OAuth2 snsapi_base sessions for every H5 page (CONTRACT §4)."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.h5.oauth_util import authorize_params, login
from wxapp import config

OPENID = "oOAuthUser00000000000000001"


@pytest.fixture
def app(make_app, fake_wechat):
    return make_app(WECHAT_API_BASE=fake_wechat.base_url)


def test_page_without_session_redirects_to_wechat_authorize(client, app):
    params = authorize_params(client.get("/h5/bind"))
    assert params["appid"] == config.of(app).wechat_appid
    assert params["redirect_uri"] == "https://wx.example.test/h5/oauth"
    assert params["response_type"] == "code" and params["scope"] == "snsapi_base"
    assert len(params["state"]) >= 20


def test_return_exchanges_code_through_api_base_and_goes_back(client, fake_wechat):
    r = login(client, fake_wechat, OPENID, "/h5/bind")
    assert r.status_code == 302 and r.headers["Location"] == "/h5/bind"
    call = fake_wechat.calls("sns/oauth2/access_token")[0]
    assert call.query["grant_type"] == "authorization_code" and call.query["appid"] and call.query["secret"]
    assert client.get("/h5/bind").status_code == 200  # the session now holds the OpenID


def test_session_cookie_is_httponly_lax_and_signed(client, fake_wechat):
    r = login(client, fake_wechat, OPENID, "/h5/bind")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and OPENID not in cookie


def test_query_string_of_the_first_page_is_kept(client, fake_wechat):
    params = authorize_params(client.get("/h5/bind?from=menu"))
    r = client.get("/h5/oauth", query_string={"code": fake_wechat.oauth_code(OPENID), "state": params["state"]})
    assert r.headers["Location"] == "/h5/bind?from=menu"


def test_wrong_state_gives_error_page_and_no_session(client, fake_wechat):
    authorize_params(client.get("/h5/bind"))
    r = client.get("/h5/oauth", query_string={"code": fake_wechat.oauth_code(OPENID), "state": "forged"})
    assert r.status_code == 400 and "登录链接已失效" in r.get_data(as_text=True)
    assert fake_wechat.calls("sns/oauth2/access_token") == []
    assert client.get("/h5/bind").status_code == 302


def test_state_is_single_use(client, fake_wechat):
    params = authorize_params(client.get("/h5/bind"))
    client.get("/h5/oauth", query_string={"code": fake_wechat.oauth_code(OPENID), "state": params["state"]})
    again = client.get("/h5/oauth", query_string={"code": fake_wechat.oauth_code(OPENID), "state": params["state"]})
    assert again.status_code == 400


def test_state_from_another_browser_is_refused(app, fake_wechat):
    first, second = app.test_client(), app.test_client()
    params = authorize_params(first.get("/h5/bind"))
    r = second.get("/h5/oauth", query_string={"code": fake_wechat.oauth_code(OPENID), "state": params["state"]})
    assert r.status_code == 400 and second.get("/h5/bind").status_code == 302


def test_refused_code_gives_error_page_and_no_session(client):
    params = authorize_params(client.get("/h5/bind"))
    r = client.get("/h5/oauth", query_string={"code": "never-issued", "state": params["state"]})
    again = authorize_params(r)  # once more, silently, for a fresh code
    assert again["state"] != params["state"]
    r = client.get("/h5/oauth", query_string={"code": "never-issued", "state": again["state"]})
    assert r.status_code == 400 and "微信授权没有成功" in r.get_data(as_text=True)
    assert client.get("/h5/bind").status_code == 302


def test_a_code_spent_by_a_host_that_died_is_replaced_by_a_fresh_one(client, fake_wechat):
    """A host exchanged the code, then died before answering; the proxy passed the return on to
    another host, which WeChat tells the code was used (40163). The trainee still arrives."""
    params = authorize_params(client.get("/h5/learn?tab=2"))
    fake_wechat.script("sns/oauth2/access_token", {"errcode": 40163, "errmsg": "code been used"})
    r = client.get("/h5/oauth", query_string={"code": "spent", "state": params["state"]})
    again = authorize_params(r)
    assert client.get("/api/courses").status_code == 401  # no session yet

    r = client.get("/h5/oauth", query_string={"code": fake_wechat.oauth_code(OPENID), "state": again["state"]})
    assert r.status_code == 302 and r.headers["Location"] == "/h5/learn?tab=2"


def test_snapshot_user_is_never_given_a_session(client, fake_wechat):
    params = authorize_params(client.get("/h5/bind"))
    code = fake_wechat.oauth_code(OPENID, snapshot=True)
    r = client.get("/h5/oauth", query_string={"code": code, "state": params["state"]})
    assert r.status_code == 400 and "使用完整服务" in r.get_data(as_text=True)
    assert client.get("/h5/bind").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/h5/\r\nx"])
def test_return_goes_only_to_paths_of_this_site(app, fake_wechat, target):
    from wxapp.h5.auth import safe_next

    assert safe_next(target) == "/h5/learn"
    assert safe_next("/h5/bind?x=1") == "/h5/bind?x=1"


def test_api_without_session_answers_401_json(client):
    r = client.get("/api/courses")
    assert r.status_code == 401 and "error" in r.json


def test_unbound_user_on_portal_is_sent_to_bind(client, fake_wechat):
    login(client, fake_wechat, OPENID, "/h5/learn")
    r = client.get("/h5/learn")
    assert r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/h5/bind"


def test_a_request_of_an_open_page_answered_meanwhile_does_not_lose_the_state(client, fake_wechat):
    """The player open in the same WeChat while its attendance QR is scanned there: a request of
    the player read the session cookie before the scan's OAuth began, and its answer (a permanent
    session is sent again with every answer) sets that old cookie back while WeChat's return is on
    its way. The state is in a cookie of its own, which only /h5/oauth receives."""
    old_session = client.get_cookie("wxapp_session")  # none yet: a first visit
    params = authorize_params(client.get("/h5/bind"))
    state_cookie = client.get_cookie("wxapp_oauth", path="/h5/oauth")
    assert state_cookie is not None and state_cookie.http_only and params["state"] not in state_cookie.value
    assert client.get_cookie("wxapp_oauth") is None  # not sent to other pages
    # The other request's answer puts back the session cookie it had read.
    if old_session is None:
        client.delete_cookie("wxapp_session")
    else:
        client.set_cookie("wxapp_session", old_session.value)

    r = client.get("/h5/oauth", query_string={"code": fake_wechat.oauth_code(OPENID), "state": params["state"]})
    assert r.status_code == 302 and r.headers["Location"] == "/h5/bind"
    assert client.get_cookie("wxapp_oauth", path="/h5/oauth") is None  # used once
    assert client.get("/h5/bind").status_code == 200
