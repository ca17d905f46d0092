"""The sandbox behaves like WeChat: client_msg_id dedup, slow answers and 43101 on a toggle, the
follower list, TEMPLATESENDJOBFINISH pushed back to /wechat, OAuth links that open offline."""
from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from models import OutboxMessage, WechatUser, db
from services.notices import job_reports
from services.wechat_api import WeChatApi, follower_page, follows
from tests.notify_util import CLASS_CODE, class_with_trainees, openid

API = "/dev/api/"
CHAT_OPENID = "oDevChat00000000000000000001"


@pytest.fixture
def live(app, redis):
    """The app served on an ephemeral loopback port: the API client reaches /dev/api over HTTP."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield WeChatApi("wxsandbox", "s", f"http://127.0.0.1:{server.server_port}/dev/api/", redis, 5)
    server.shutdown()


def test_template_sends_are_deduplicated_by_client_msg_id(live):
    first = live.send_template("o1", "t", {}, client_msg_id="wxapp-outbox-1")
    again = live.send_template("o1", "t", {}, client_msg_id="wxapp-outbox-1")
    other = live.send_template("o1", "t", {}, client_msg_id="wxapp-outbox-2")
    assert first == again != other


def test_toggles_answer_slowly_and_43101(app, live):
    client = app.test_client()
    assert client.post("/dev/wechat", data={"slow_s": "1", "refuse": ""}).status_code == 303
    started = time.monotonic()
    live.send_template("o1", "t", {}, client_msg_id="a")
    assert time.monotonic() - started >= 1
    client.post("/dev/wechat", data={"slow_s": "0", "refuse": "1"})
    with pytest.raises(Exception) as refused:
        live.send_template("o1", "t", {}, client_msg_id="b")
    assert refused.value.errcode == 43101
    assert 'name="refuse" value="1" checked' in client.get("/dev/wechat").get_data(as_text=True)


def test_the_follower_list_is_who_followed_in_the_chat(app, live):
    client = app.test_client()
    for who, event in [("oA", "subscribe"), ("oB", "subscribe"), ("oC", "subscribe"), ("oB", "unsubscribe")]:
        client.post("/dev/chat", data={"openid": who, "event": event})
    assert follower_page(live) == (["oA", "oC"], "oC")
    assert follower_page(live, "oC") == ([], "")
    assert follows(live, ["oA", "oB"]) == {"oA": True, "oB": False}


def test_a_template_send_is_reported_back_to_the_callback(make_app):
    app = make_app(WXAPP_ENV="development", WECHAT_TEMPLATE_CLASS_OPEN="tmpl")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        app.extensions["wechat_api"].api_base = base = f"http://127.0.0.1:{server.server_port}/dev/api/"
        app.extensions["wechat_api"].API_BASE_URL = base + "cgi-bin/"
        class_with_trainees(app, bound=1, unbound=0)
        with app.app_context():
            tools = app.extensions["notice_desk"]
            tools.dispatcher().run(notice_id=tools.class_open(CLASS_CODE, "test").id, wait=True, max_seconds=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with app.app_context():
                job_reports.record(db.session, app.extensions["redis"])  # as the scheduler does every 2 s
                state, delivered = db.session.execute(select(OutboxMessage.state, OutboxMessage.delivered_at)).one()
            if delivered is not None:
                break
            time.sleep(0.2)
    finally:
        server.shutdown()
    assert state == "sent" and delivered is not None
    with app.app_context():
        assert db.session.scalar(select(WechatUser.openid)) == openid(1)


def test_every_oauth_link_of_a_reply_opens_the_sandbox_oauth_page(client):
    page = client.post("/dev/chat", data={"openid": CHAT_OPENID, "key": "ONLINE_LEARNING"}).get_data(as_text=True)
    assert "open.weixin.qq.com" not in page and "https://wx.example.test/h5/" not in page
    href = page.split('<a href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert href.startswith("/dev/oauth?")
    hop = client.get(href)
    assert hop.status_code == 302
    target = urlsplit(hop.headers["Location"])
    assert target.path == "/h5/oauth" and parse_qs(target.query)["code"] == [f"sandbox-{CHAT_OPENID}"]
