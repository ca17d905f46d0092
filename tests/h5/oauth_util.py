"""Walks the OAuth2 snsapi_base dance the way WeChat's browser does, against the fake WeChat API."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit


def authorize_params(response) -> dict:
    assert response.status_code == 302, response.status_code
    url = urlsplit(response.headers["Location"])
    assert (url.scheme, url.netloc, url.path) == ("https", "open.weixin.qq.com", "/connect/oauth2/authorize")
    assert url.fragment == "wechat_redirect"
    return {k: v[0] for k, v in parse_qs(url.query).items()}


def login(client, fake_wechat, openid: str, path: str = "/h5/learn"):
    """Visits `path` without a session, lets "WeChat" send the browser back with a code; returns
    the response of the OAuth return (a redirect to `path` when all went well)."""
    params = authorize_params(client.get(path))
    code = fake_wechat.oauth_code(openid)
    return client.get("/h5/oauth", query_string={"code": code, "state": params["state"]})
