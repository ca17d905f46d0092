"""The WeChat API client against a fake WeChat on loopback and the real Redis."""
from __future__ import annotations

import threading
import time

import pytest
import redis as redis_lib

from services import keys
from services.wechat_api import WeChatApi, WeChatApiError, WeChatUnavailable
from tests.fakewechat import Delay, HttpError

APPID, SECRET = "wxtestappid000001", "test-secret"
TOKEN_PATH = "cgi-bin/stable_token"
TEMPLATE_PATH = "cgi-bin/message/template/send"


@pytest.fixture
def store(redis_url):
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def new_api(fake_wechat, redis_url, store):
    """Each call builds a client with its own Redis connection, like another process would."""
    def build(timeout: float = 2) -> WeChatApi:
        return WeChatApi(APPID, SECRET, fake_wechat.base_url, redis_lib.Redis.from_url(redis_url), timeout)
    return build


def send(api: WeChatApi) -> int:
    return api.send_template("oUser1", "tmpl-1", {"thing1": {"value": "开班"}}, url=None)


def test_token_is_fetched_from_stable_token_through_the_base_url(new_api, fake_wechat, store):
    token = new_api().access_token()

    [fetch] = fake_wechat.requests
    assert (fetch.method, fetch.path) == ("POST", TOKEN_PATH)
    assert fetch.json == {"grant_type": "client_credential", "appid": APPID, "secret": SECRET, "force_refresh": False}
    assert store.get(keys.access_token(APPID)).decode() == token
    assert 0 < store.ttl(keys.access_token(APPID)) <= 7200 - 300


def test_second_client_uses_the_token_stored_in_redis(new_api, fake_wechat):
    token = new_api().access_token()

    new_api().create_menu({"button": []})

    assert len(fake_wechat.calls(TOKEN_PATH)) == 1
    [sent] = fake_wechat.calls("cgi-bin/menu/create")
    assert sent.query["access_token"] == token
    assert sent.json == {"button": []}


def test_sixteen_threads_asking_at_once_fetch_the_token_once(new_api, fake_wechat):
    # A slow answer keeps the first fetch in flight while the other threads arrive.
    fake_wechat.script(TOKEN_PATH, Delay(0.5, {"access_token": "only-one", "expires_in": 7200}))
    clients = [new_api() for _ in range(16)]
    barrier, tokens = threading.Barrier(16), []

    def ask(api):
        barrier.wait()
        tokens.append(api.access_token())

    threads = [threading.Thread(target=ask, args=(api,)) for api in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert tokens == ["only-one"] * 16
    assert len(fake_wechat.calls(TOKEN_PATH)) == 1


def test_expired_token_is_refreshed_once_and_the_call_retried(new_api, fake_wechat):
    api = new_api()
    old = api.access_token()
    fake_wechat.script(TEMPLATE_PATH, {"errcode": 42001, "errmsg": "access_token expired"})

    msgid = send(api)

    assert msgid > 0
    fetches, sends = fake_wechat.calls(TOKEN_PATH), fake_wechat.calls(TEMPLATE_PATH)
    assert len(fetches) == 2 and len(sends) == 2
    assert sends[0].query["access_token"] == old
    assert sends[1].query["access_token"] == api.access_token() != old


def test_refresh_forces_a_new_token_when_wechat_hands_back_the_failed_one(new_api, fake_wechat):
    fake_wechat.script(TOKEN_PATH, {"access_token": "A", "expires_in": 7200},
                       {"access_token": "A", "expires_in": 7000}, {"access_token": "B", "expires_in": 7200})
    fake_wechat.script(TEMPLATE_PATH, {"errcode": 40001, "errmsg": "invalid credential"})

    send(new_api())

    assert [f.json["force_refresh"] for f in fake_wechat.calls(TOKEN_PATH)] == [False, False, True]
    assert [s.query["access_token"] for s in fake_wechat.calls(TEMPLATE_PATH)] == ["A", "B"]


def test_token_replaced_by_another_process_meanwhile_is_used_without_a_fetch(new_api, fake_wechat, store):
    api = new_api()
    api.access_token()
    fake_wechat.script(TEMPLATE_PATH, Delay(0.4, {"errcode": 40001, "errmsg": "invalid credential"}))
    worker = threading.Thread(target=send, args=(api,))
    worker.start()
    time.sleep(0.2)  # the call is in flight with the old token; another process stores a new one
    store.set(keys.access_token(APPID), "newer-from-elsewhere", ex=600)
    worker.join(5)

    assert len(fake_wechat.calls(TOKEN_PATH)) == 1
    assert fake_wechat.calls(TEMPLATE_PATH)[-1].query["access_token"] == "newer-from-elsewhere"
    assert store.get(keys.access_token(APPID)) == b"newer-from-elsewhere"


def test_persistent_token_error_gives_up_after_one_retry(new_api, fake_wechat):
    fake_wechat.script(TEMPLATE_PATH, *[{"errcode": 42001, "errmsg": "access_token expired"}] * 20)

    with pytest.raises(WeChatApiError) as caught:
        send(new_api())

    assert caught.value.errcode == 42001 and caught.value.transient
    assert len(fake_wechat.calls(TEMPLATE_PATH)) == 2
    assert len(fake_wechat.calls(TOKEN_PATH)) == 2


@pytest.mark.parametrize("path", [TEMPLATE_PATH, TOKEN_PATH])
def test_answer_slower_than_the_timeout_is_a_transient_error(new_api, fake_wechat, path):
    fake_wechat.script(path, Delay(3))
    started = time.monotonic()

    with pytest.raises(WeChatUnavailable) as caught:
        send(new_api(timeout=0.5))

    assert caught.value.transient
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("errcode,transient", [(43004, False), (40003, False), (40037, False),
                                               (-1, True), (45009, True)])
def test_errors_are_sorted_into_transient_and_permanent(new_api, fake_wechat, errcode, transient):
    fake_wechat.script(TEMPLATE_PATH, {"errcode": errcode, "errmsg": "refused"})

    with pytest.raises(WeChatApiError) as caught:
        send(new_api())

    assert (caught.value.errcode, caught.value.transient) == (errcode, transient)
    assert len(fake_wechat.calls(TEMPLATE_PATH)) == 1


@pytest.mark.parametrize("status,transient", [(502, True), (404, False)])
def test_http_error_status_is_our_error(new_api, fake_wechat, status, transient):
    fake_wechat.script(TEMPLATE_PATH, HttpError(status))

    with pytest.raises(WeChatUnavailable) as caught:
        send(new_api())

    assert caught.value.transient is transient


@pytest.mark.parametrize("call", [lambda api: api.access_token(), lambda api: api.oauth_openid("c")])
def test_unreachable_wechat_is_a_transient_error_that_names_no_secret(store, call):
    api = WeChatApi(APPID, SECRET, "http://127.0.0.1:9/", store, 1)

    with pytest.raises(WeChatUnavailable) as caught:
        call(api)

    assert caught.value.transient
    assert SECRET not in str(caught.value) and caught.value.__cause__ is None


def test_template_message_is_posted_as_wechat_expects(new_api, fake_wechat):
    fake_wechat.script(TEMPLATE_PATH, {"errcode": 0, "errmsg": "ok", "msgid": 200228332})

    msgid = new_api().send_template("oUser1", "tmpl-1", {"thing1": {"value": "开班"}}, url="https://x.test/h5/learn")

    assert msgid == 200228332
    assert fake_wechat.calls(TEMPLATE_PATH)[0].json == {
        "touser": "oUser1", "template_id": "tmpl-1", "url": "https://x.test/h5/learn",
        "data": {"thing1": {"value": "开班"}},
    }


@pytest.mark.parametrize("flag,snapshot", [(1, True), (None, False)])
def test_oauth_code_exchange_returns_the_openid_and_flags_snapshot_users(new_api, fake_wechat, flag, snapshot):
    answer = {"access_token": "web", "expires_in": 7200, "refresh_token": "r", "openid": "oVisitor",
              "scope": "snsapi_base"}
    fake_wechat.script("sns/oauth2/access_token", {**answer, "is_snapshotuser": flag} if flag else answer)

    result = new_api().oauth_openid("code-1")

    assert (result.openid, result.is_snapshot) == ("oVisitor", snapshot)
    [call] = fake_wechat.requests  # no access token was fetched for it
    assert call.query == {"appid": APPID, "secret": SECRET, "code": "code-1", "grant_type": "authorization_code"}


def test_refused_oauth_code_is_a_permanent_error(new_api, fake_wechat):
    fake_wechat.script("sns/oauth2/access_token", {"errcode": 40163, "errmsg": "code been used"})

    with pytest.raises(WeChatApiError) as caught:
        new_api().oauth_openid("used-code")

    assert (caught.value.errcode, caught.value.transient) == (40163, False)


def test_a_burst_of_sends_reads_the_token_from_redis_once_and_a_refused_one_is_dropped_at_once(
        new_api, fake_wechat, store, monkeypatch):
    api = new_api()
    reads = []
    real_get = api.redis.get
    monkeypatch.setattr(api.redis, "get", lambda key: reads.append(key) or real_get(key))
    send(api)  # no token yet: read, fetched under the lock (read again there), stored
    first = len(reads)
    for _ in range(4):
        send(api)
    assert first >= 1 and len(reads) == first  # kept in the process for TOKEN_LOCAL_S
    assert len(fake_wechat.calls(TOKEN_PATH)) == 1
    # Another process replaced the token and WeChat now refuses the kept one: dropped, the new one read.
    store.set(keys.access_token(APPID), "newer-from-elsewhere", ex=600)
    fake_wechat.script(TEMPLATE_PATH, {"errcode": 40001, "errmsg": "invalid credential"})
    send(api)
    send(api)
    assert [s.query["access_token"] for s in fake_wechat.calls(TEMPLATE_PATH)][-3:] == [
        fake_wechat.calls(TEMPLATE_PATH)[0].query["access_token"], "newer-from-elsewhere", "newer-from-elsewhere"]
    assert len(fake_wechat.calls(TOKEN_PATH)) == 1


def test_template_sends_go_through_the_proxy_of_the_environment_as_the_other_calls_do(
        fake_wechat, redis_url, store, monkeypatch):
    import urllib3

    monkeypatch.setenv("HTTP_PROXY", "http://proxy.school.internal:3128")
    monkeypatch.setenv("NO_PROXY", "")
    api = WeChatApi(APPID, SECRET, "http://api.weixin.example/", redis_lib.Redis.from_url(redis_url), 2)
    assert isinstance(api._pool, urllib3.ProxyManager) and api._pool.proxy.host == "proxy.school.internal"
    assert api._http.proxies.get("http") == "http://proxy.school.internal:3128"

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # the fake WeChat: straight, no proxy
    direct = WeChatApi(APPID, SECRET, fake_wechat.base_url, redis_lib.Redis.from_url(redis_url), 2)
    assert not isinstance(direct._pool, urllib3.ProxyManager)
    direct.size_pool(32)
    assert direct._pool.connection_pool_kw["maxsize"] == 32
    assert send(direct) > 0 and [call.json["touser"] for call in fake_wechat.calls(TEMPLATE_PATH)] == ["oUser1"]
