"""PostgreSQL stopped, hung (SIGSTOP) and restarted under the callback, /healthz, heartbeats, 认证登录
and the exam's submit: every request is answered (never hung), with what can be said without the
database, and nothing is half done; a restart costs no request at all.

Timing is asserted only as "answered, not hung": each request runs in a thread given a generous
`ANSWERED_S`; the budgets themselves (3 s for the callback, 1.5 s for /healthz) are the code's.
"""
from __future__ import annotations

import re
import threading
import time

import psycopg
import pytest
from sqlalchemy import select, text

from models import WechatUser, db
from models.exam import ExamAttempt
from tests import factories
from tests.conftest import TEST_TOKEN
from tests.exam_util import bank, full_hours, photo
from tests.faults.test_outages import _bound, _stranger, until_ok
from tests.h5.oauth_util import login
from tests.h5.test_exam_api import Browser
from tests.h5.test_player_pages import beat, open_page
from tests.study_util import lesson
from tests.wechat_util import WeChatServer, event_xml, reply_content, text_xml
from wxapp.api.heartbeat import UNRECORDED

OPENID = "oDbFault00000000000000000001"
PHONE, ID_CARD = "13912340001", "320505198001010017"
SCHOOL_PHONE = "0512-68888888"  # the fault app's SCHOOL_PHONE: in the contact line
ANSWERED_S = 30  # far above every budget: only a hung request takes this long


def answered(call):
    """`call()`'s answer, failing the test if it hangs (the thread is left to the resumed server)."""
    box: list = []
    worker = threading.Thread(target=lambda: box.append(call()), daemon=True)
    worker.start()
    worker.join(ANSWERED_S)
    assert not worker.is_alive(), "no answer: the request hung on the database"
    return box[0]


@pytest.fixture
def hung(servers):
    """Call to SIGSTOP the private cluster; it is resumed after the test whatever happens."""
    yield servers[1].hang
    servers[1].resume()


@pytest.fixture
def bound(fault_app):
    return factories.trainee(fault_app, phone=PHONE, id_card=ID_CARD, openid=OPENID)


def _warm(app) -> None:
    """A pooled connection already open, as in a running server (a hang then stops it mid-use)."""
    client = app.test_client()
    assert client.get("/healthz").status_code == 200


# -- the callback -------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", ["hang", "stop"])
def test_callback_answers_without_the_database(fault_app, servers, hung, bound, fault):
    wechat = WeChatServer(fault_app.test_client(), TEST_TOKEN)
    _warm(fault_app)
    hung() if fault == "hang" else servers[1].stop()

    courses = answered(lambda: wechat.post(event_xml(OPENID, "CLICK", "MY_COURSES")))
    assert courses.status_code == 200
    assert "无法查询您的学习信息" in reply_content(courses.data) and SCHOOL_PHONE in reply_content(courses.data)

    help_ = answered(lambda: wechat.post(text_xml(OPENID, "帮助", 1001)))
    assert help_.status_code == 200 and "【使用帮助】" in reply_content(help_.data)

    welcome = answered(lambda: wechat.post(event_xml("oDbFaultNewcomer0000000000001", "subscribe")))
    assert welcome.status_code == 200 and "/h5/bind" in reply_content(welcome.data)

    gone = answered(lambda: wechat.post(event_xml(OPENID, "unsubscribe")))
    assert gone.status_code == 200 and gone.data == b"success"


def test_callback_answers_again_from_the_database_once_it_resumes(fault_app, servers, hung, bound):
    wechat = WeChatServer(fault_app.test_client(), TEST_TOKEN)
    _warm(fault_app)
    hung()
    answered(lambda: wechat.post(event_xml(OPENID, "CLICK", "MY_CLASS")))
    servers[1].resume()
    r = wechat.post(event_xml(OPENID, "CLICK", "MY_COURSES"))
    assert r.status_code == 200 and "建筑工程" in reply_content(r.data)


# -- /healthz -----------------------------------------------------------------------------------

@pytest.mark.parametrize("warm", [True, False], ids=["pooled", "connecting"])
def test_healthz_is_503_not_hung_while_postgres_hangs(fault_app, servers, hung, warm):
    client = fault_app.test_client()
    if warm:
        _warm(fault_app)
    hung()
    for _ in range(2):  # the second meets the connection the first gave up on, or a new one
        r = answered(lambda: client.get("/healthz"))
        assert r.status_code == 503 and r.json["database"].startswith("down") and r.json["redis"] == "ok"
    servers[1].resume()
    assert until_ok(lambda: client.get("/healthz")).status_code == 200


# -- pages and the JSON API ---------------------------------------------------------------------

def test_heartbeat_needing_the_database_while_it_hangs_is_503_with_the_players_message(fault_app, servers, hung, fake_wechat, bound):
    me = fault_app.test_client()
    login(me, fake_wechat, OPENID)
    lesson_id = lesson(fault_app, duration_s=300)
    tab = open_page(me, lesson_id)
    assert beat(me, lesson_id, tab, 0).status_code == 200
    hung()
    assert answered(lambda: beat(me, lesson_id, tab, 0.5)).status_code in (200, 503)  # from Redis, if it can
    time.sleep(1.2)  # a check is due: it must be written to the database before it is shown
    r = answered(lambda: beat(me, lesson_id, tab, 1.7))
    assert r.status_code == 503 and r.json == {"error": UNRECORDED}
    servers[1].resume()
    assert until_ok(lambda: beat(me, lesson_id, tab, 1)).status_code == 200


@pytest.mark.parametrize("fault", ["hang", "stop"])
def test_bind_while_postgres_hangs_or_stops_answers_its_page_and_binds_nothing(fault_app, servers, hung, fake_wechat,
                                                                              fault):
    factories.trainee(fault_app, name="吴二", phone="13912340002", id_card="32058319751212108X")
    client = _stranger(fault_app, fake_wechat)
    page = client.get("/h5/bind").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    hung() if fault == "hang" else servers[1].stop()
    r = answered(lambda: client.post("/h5/bind", data={"phone": "13912340002", "id_card": "32058319751212108X",
                                                       "csrf_token": token}))
    assert r.status_code == 503 and "请稍等片刻" in r.get_data(as_text=True)
    servers[1].resume() if fault == "hang" else servers[1].start()
    assert _bound(fault_app) == []


@pytest.mark.parametrize("fault", ["hang", "stop"])
def test_exam_submit_while_postgres_hangs_or_stops_is_503_and_can_be_handed_in_after(fault_app, servers, hung,
                                                                                    fake_wechat, bound, fault):
    bank(fault_app)
    full_hours(fault_app, bound)
    browser = Browser(fault_app, fake_wechat, OPENID)
    exam_id = browser.get("/api/exams").json[0]["id"]
    attempt_id = browser.start(exam_id, photo()).json["id"]
    hung() if fault == "hang" else servers[1].stop()
    r = answered(lambda: browser.submit(attempt_id, photo("PNG")))
    assert r.status_code == 503 and r.is_json and r.json["error"]
    servers[1].resume() if fault == "hang" else servers[1].start()
    with fault_app.app_context():
        assert db.session.get(ExamAttempt, attempt_id).submitted_at is None  # nothing half done
    r = until_ok(lambda: browser.submit(attempt_id, photo("PNG")))
    assert r.status_code == 200 and set(r.json) == {"score", "passed", "correct", "total"}


# -- restarts -------------------------------------------------------------------------------------

def _kill_backends(own_postgres) -> None:
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{own_postgres.port}/postgres", autocommit=True) as conn:
        # With a timeout, each call returns once its backend has exited (its socket closed).
        conn.execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                     "WHERE datname = 'wxapp' AND pid <> pg_backend_pid()")


@pytest.mark.parametrize("fault", ["restart", "terminate"])
def test_a_restart_costs_no_request(fault_app, servers, fake_wechat, bound, fault):
    me = fault_app.test_client()
    login(me, fake_wechat, OPENID)
    wechat = WeChatServer(fault_app.test_client(), TEST_TOKEN)
    assert me.get("/api/courses").status_code == 200  # a pooled connection, open
    if fault == "restart":
        servers[1].stop()
        servers[1].start()
    else:
        _kill_backends(servers[1])
    answers = [me.get("/api/courses").status_code for _ in range(5)]
    answers += [fault_app.test_client().get("/healthz").status_code for _ in range(5)]
    assert answers == [200] * 10
    r = wechat.post(event_xml(OPENID, "CLICK", "MY_CLASS"))
    assert "无法查询您的学习信息" not in reply_content(r.data)
    with fault_app.app_context():
        assert db.session.scalar(select(WechatUser.openid).where(WechatUser.trainee_id == bound)) == OPENID



def test_each_connection_carries_a_statement_timeout_and_tcp_keepalives(fault_app):
    with fault_app.app_context():
        assert db.session.execute(text("SHOW statement_timeout")).scalar() == "8s"
        params = db.session.connection().connection.dbapi_connection.info.get_parameters()
    assert params["keepalives"] == "1" and int(params["keepalives_idle"]) <= 60
    assert params["connect_timeout"] == "2"
