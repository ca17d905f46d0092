"""The fault suite: stop, restart and hang (SIGSTOP) the app's own Redis and PostgreSQL.

/healthz names what is down; heartbeats answer 503 with the Chinese message the player shows;
认证登录 answers its own page and binds nothing; pages answer 503, never 500; no attendance check
is shown that the database doesn't hold; nothing credited is lost. (The /wechat callback under a
hung Redis has its own time budget and tests, with the callback.)
"""
from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from models import AttendanceCheck, LessonProgress, WechatUser, db
from services import keys
from tests import factories
from tests.h5.oauth_util import login
from tests.h5.test_player_pages import _csrf, attend_path, beat, open_page
from tests.study_util import lesson
from wxapp.api.heartbeat import UNRECORDED

OPENID = "oFaultUser00000000000000001"
PHONE, ID_CARD = "13912340001", "320505198001010017"


@pytest.fixture
def me(fault_app, fake_wechat):
    factories.trainee(fault_app, phone=PHONE, id_card=ID_CARD, openid=OPENID)
    client = fault_app.test_client()
    login(client, fake_wechat, OPENID)
    return client


def until_ok(call, tries: int = 3):
    """The first answer after a server came back may still meet a connection it dropped: the pool
    is renewed by that answer, so the next one is served."""
    for _ in range(tries):
        answer = call()
        if answer.status_code != 503:
            return answer
    return answer


def test_healthz_names_postgres_down_and_recovers(fault_app, servers):
    client = fault_app.test_client()
    assert client.get("/healthz").status_code == 200
    servers[1].stop()
    for _ in range(3):
        r = client.get("/healthz")
        assert r.status_code == 503 and r.json["database"].startswith("down") and r.json["redis"] == "ok"
    servers[1].start()
    assert until_ok(lambda: client.get("/healthz")).json == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_names_redis_down_hung_and_back(fault_app, servers):
    client = fault_app.test_client()
    servers[0].stop()
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json["redis"].startswith("down") and r.json["database"] == "ok"
    servers[0].start()
    assert until_ok(lambda: client.get("/healthz")).status_code == 200
    servers[0].hang()
    started = time.monotonic()
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json["redis"].startswith("down") and time.monotonic() - started < 5
    servers[0].resume()
    assert until_ok(lambda: client.get("/healthz")).status_code == 200


def test_heartbeat_while_redis_is_down_is_503_with_the_players_message(fault_app, servers, me):
    lesson_id = lesson(fault_app, duration_s=300)
    tab = open_page(me, lesson_id)
    assert beat(me, lesson_id, tab, 0).status_code == 200
    servers[0].stop()
    r = beat(me, lesson_id, tab, 0.5)
    assert r.status_code == 503 and r.json == {"error": UNRECORDED}
    assert r.headers["Cache-Control"] == "no-store"
    servers[0].start()  # empty: the page's hot state is gone with it
    r = until_ok(lambda: beat(me, lesson_id, tab, 1))
    assert r.status_code == 409 and r.json == {"error": "superseded"}
    assert beat(me, lesson_id, open_page(me, lesson_id), 0).status_code == 200


def test_heartbeat_while_redis_hangs_is_503_in_seconds_then_carries_on(fault_app, servers, me):
    lesson_id = lesson(fault_app, duration_s=300)
    tab = open_page(me, lesson_id)
    assert beat(me, lesson_id, tab, 0, state="paused").status_code == 200
    servers[0].hang()
    try:
        started = time.monotonic()
        r = beat(me, lesson_id, tab, 0, state="paused")
        took = time.monotonic() - started
    finally:
        servers[0].resume()
    assert r.status_code == 503 and r.json == {"error": UNRECORDED} and took < 6
    assert until_ok(lambda: beat(me, lesson_id, tab, 0, state="paused")).status_code == 200  # same page, same state


def test_no_check_is_shown_that_the_database_does_not_hold(fault_app, servers, me):
    lesson_id = lesson(fault_app, duration_s=300)
    tab = open_page(me, lesson_id)
    assert beat(me, lesson_id, tab, 0).status_code == 200
    servers[1].stop()
    time.sleep(1.2)  # a check is due now
    r = beat(me, lesson_id, tab, 1.2)
    assert r.status_code == 503 and r.json == {"error": UNRECORDED}
    redis = fault_app.extensions["redis"]
    assert not redis.hget(keys.play(1), "chk") and not list(redis.scan_iter(keys.attendance_check("*")))
    servers[1].start()
    time.sleep(0.5)
    r = until_ok(lambda: beat(me, lesson_id, tab, 1.7))
    assert r.status_code == 200 and r.json["challenge"] is not None
    with fault_app.app_context():
        issued = db.session.scalars(select(AttendanceCheck.public_id)).all()
    assert issued == [r.json["challenge"]["id"]]


def _confirmed_seconds(app, lesson_id) -> float:
    with app.app_context():
        row = db.session.scalar(select(LessonProgress).where(LessonProgress.lesson_id == lesson_id))
        return row.credited_seconds if row else 0.0


def test_nothing_credited_is_lost_when_redis_and_postgres_go_down(fault_app, servers, me):
    lesson_id = lesson(fault_app, duration_s=300)
    tab = open_page(me, lesson_id)
    beat(me, lesson_id, tab, 0)
    time.sleep(1.2)
    challenge = beat(me, lesson_id, tab, 1.2).json["challenge"]
    path = attend_path(me, challenge)
    assert me.post(path, data={"csrf_token": _csrf(me.get(path))}).status_code == 200
    credited = _confirmed_seconds(fault_app, lesson_id)
    assert credited > 1.0

    servers[0].restart()  # Redis loses everything: the open page with it
    assert beat(me, lesson_id, tab, 2).json == {"error": "superseded"}
    servers[1].stop()
    assert me.get(f"/h5/lesson/{lesson_id}").status_code == 503
    servers[1].start()
    assert until_ok(lambda: me.get(f"/h5/lesson/{lesson_id}")).status_code == 200
    assert _confirmed_seconds(fault_app, lesson_id) == credited
    page = me.get(f"/h5/lesson/{lesson_id}").get_data(as_text=True)
    assert float(re.search(r'data-resume="([\d.]+)"', page).group(1)) >= 1.0  # resumes where it was confirmed


def _bind(client, phone=PHONE, id_card=ID_CARD):
    page = client.get("/h5/bind").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return client.post("/h5/bind", data={"phone": phone, "id_card": id_card, "csrf_token": token})


def _stranger(app, fake_wechat):
    client = app.test_client()
    login(client, fake_wechat, "oFaultStranger0000000000001", "/h5/bind")
    return client


def _bound(app) -> list:
    with app.app_context():
        return db.session.scalars(select(WechatUser.openid).where(WechatUser.trainee_id.is_not(None))).all()


@pytest.mark.parametrize("fault", ["stop", "hang"])
def test_bind_while_redis_is_unreachable_answers_its_page_and_binds_nothing(fault_app, servers, fake_wechat, fault):
    factories.trainee(fault_app, name="吴二", phone="13912340002", id_card="32058319751212108X")
    client = _stranger(fault_app, fake_wechat)
    page = client.get("/h5/bind").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    servers[0].stop() if fault == "stop" else servers[0].hang()
    try:
        r = client.post("/h5/bind", data={"phone": "13912340002", "id_card": "32058319751212108X", "csrf_token": token})
    finally:
        servers[0].resume()
    html = r.get_data(as_text=True)
    assert r.status_code == 503 and "系统暂时无法完成认证" in html and 'value="13912340002"' in html
    assert "32058319751212108X" not in html and _bound(fault_app) == []
    servers[0].start() if fault == "stop" else None
    assert until_ok(lambda: _bind(client, "13912340002", "32058319751212108X")).status_code == 303


def test_bind_and_pages_while_postgres_is_down_answer_503_not_500(fault_app, servers, fake_wechat, me):
    factories.trainee(fault_app, name="吴二", phone="13912340002", id_card="32058319751212108X")
    client = _stranger(fault_app, fake_wechat)
    page = client.get("/h5/bind").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    servers[1].stop()
    r = client.post("/h5/bind", data={"phone": "13912340002", "id_card": "32058319751212108X", "csrf_token": token})
    assert r.status_code == 503 and "请稍等片刻" in r.get_data(as_text=True)
    for path in ("/h5/learn", "/h5/bind", "/h5/lesson/1"):
        r = me.get(path)
        assert r.status_code == 503 and "weui" in r.get_data(as_text=True), path
    r = me.get("/api/courses")
    assert r.status_code == 503 and r.is_json and r.json["error"]
    servers[1].start()
    assert until_ok(lambda: _bind(client, "13912340002", "32058319751212108X")).status_code == 303
    assert _bound(fault_app) == [OPENID, "oFaultStranger0000000000001"] or sorted(_bound(fault_app)) == sorted(
        [OPENID, "oFaultStranger0000000000001"])


def test_the_first_callback_after_a_redis_restart_still_checks_for_replays(fault_app, servers, caplog):
    """The callback's Redis connections outlive a restart of Redis (or its idle timeout closing
    them): the next callback finds its connection closed, opens another and keeps its replay check."""
    from tests.conftest import TEST_TOKEN
    from tests.wechat_util import event_xml, query, text_xml

    client = fault_app.test_client()
    assert client.post("/wechat", query_string=query(TEST_TOKEN), data=event_xml(OPENID, "CLICK", "HELP")).status_code == 200
    servers[0].restart()
    caplog.clear()

    signed = query(TEST_TOKEN)
    first = client.post("/wechat", query_string=signed, data=event_xml(OPENID, "CLICK", "HELP"))
    forged = client.post("/wechat", query_string=signed, data=text_xml("oSomeoneElse0000000000000001", "课程", msg_id=7))
    assert (first.status_code, forged.status_code) == (200, 403)
    assert "wechat_redis_unavailable" not in caplog.text


def test_a_reply_that_came_too_late_is_never_read_as_the_next_callbacks(fault_app, servers):
    """A callback gives up on a hung Redis after its timeout; when Redis wakes it still answers that
    command. The connection was dropped, so the late reply can't pass for the next callback's."""
    from tests.conftest import TEST_TOKEN
    from tests.wechat_util import event_xml, query, text_xml

    client = fault_app.test_client()
    assert client.post("/wechat", query_string=query(TEST_TOKEN), data=event_xml(OPENID, "CLICK", "HELP")).status_code == 200
    servers[0].hang()
    stalled = client.post("/wechat", query_string=query(TEST_TOKEN), data=event_xml(OPENID, "CLICK", "HELP"))
    assert stalled.status_code == 200 and "使用帮助" in stalled.get_data(as_text=True)  # answered without Redis
    servers[0].resume()
    time.sleep(0.2)  # Redis now works through what it was sent while stopped

    signed = query(TEST_TOKEN)
    first = client.post("/wechat", query_string=signed, data=event_xml(OPENID, "CLICK", "HELP"))
    forged = client.post("/wechat", query_string=signed, data=text_xml("oSomeoneElse0000000000000001", "课程", msg_id=8))
    assert first.status_code == 200 and "使用帮助" in first.get_data(as_text=True)
    assert forged.status_code == 403
