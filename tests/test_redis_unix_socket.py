"""REDIS_URL may name a unix socket (Redis on the same host: cheaper than loopback TCP, see
README). Every user of Redis then reaches it there: the callback's replay check, the route
limits (their library spells the scheme redis+unix), the app's own client."""
from __future__ import annotations

import shutil

import pytest
import redis as redis_lib

from tests.conftest import TEST_TOKEN
from tests.faults.servers import RedisServer
from tests.wechat_util import WeChatServer, event_xml, query, text_xml


@pytest.fixture
def socket_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(unix_socket=str(tmp_path / "redis.sock")).start()
    yield server
    server.stop()


def test_an_app_on_a_unix_socket_redis_uses_it_for_everything(make_app, socket_redis):
    assert socket_redis.url.startswith("unix://")
    app = make_app(REDIS_URL=socket_redis.url, VERIFY_RATE_LIMIT="2 per minute")
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis+" + socket_redis.url
    wechat = WeChatServer(app.test_client(), TEST_TOKEN)

    # The replay check lives in this Redis: the same signed query with another body is refused.
    signed = query(TEST_TOKEN)
    first = wechat.client.post("/wechat", query_string=signed, data=event_xml("oSock1", "CLICK", "HELP").encode())
    forged = wechat.client.post("/wechat", query_string=signed, data=text_xml("oSock2", "课程", msg_id=1).encode())
    assert (first.status_code, forged.status_code) == (200, 403)
    assert "使用帮助" in first.get_data(as_text=True)

    # The route limits count in it too: with their storage unreachable they would be skipped, never 429.
    client = app.test_client()
    assert [client.get("/verify/ABCDEFGHJKMN").status_code for _ in range(3)] == [404, 404, 429]

    direct = redis_lib.Redis.from_url(socket_redis.url)
    assert any(b"callback" in k or b"nonce" in k for k in direct.keys("*")), direct.keys("*")
    assert any(b"LIMITER" in k for k in direct.keys("*")), direct.keys("*")

