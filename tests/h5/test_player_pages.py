"""The player page, the heartbeat API and the attendance check over HTTP (CONTRACT §4): a check
is confirmed only by the trainee's own WeChat, once; tokens never reach a log."""
from __future__ import annotations

import hashlib
import io
import logging
import re
import threading
import time

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from models import AttendanceCheck, AttendanceRefusal, Course, Lesson, db
from services.school.majors import ensure_majors
from tests import factories
from tests.h5.oauth_util import login
from tests.study_util import lesson

OPENID = "oPlayerUser0000000000000001"
OTHER = "oOtherTrainee00000000000001"
BASE = "https://wx.example.test"


@pytest.fixture
def app(make_app, fake_wechat):
    # A check after one second of playing, so that these tests need only short real waits.
    return make_app(WECHAT_API_BASE=fake_wechat.base_url, ATTENDANCE_INTERVAL_MIN_S=1, ATTENDANCE_INTERVAL_MAX_S=1,
                    ATTENDANCE_TTL_S=60)


@pytest.fixture
def lesson_id(app):
    return lesson(app, duration_s=300)


@pytest.fixture
def trainee_id(app):
    return factories.trainee(app, openid=OPENID)


def browser(app, fake_wechat, openid: str, path: str = "/h5/learn"):
    client = app.test_client()
    login(client, fake_wechat, openid, path)
    return client


@pytest.fixture
def me(app, fake_wechat, trainee_id):
    return browser(app, fake_wechat, OPENID)


def open_page(client, lesson_id: int) -> str:
    page = client.get(f"/h5/lesson/{lesson_id}")
    assert page.status_code == 200, page.status_code
    return re.search(r'data-tab="([^"]+)"', page.get_data(as_text=True)).group(1)


def beat(client, lesson_id, tab, position, state="playing", **kwargs):
    return client.post("/api/play/heartbeat", json={"lesson_id": lesson_id, "position": position, "tab": tab,
                                                    "state": state}, **kwargs)


def pending_check(client, lesson_id) -> tuple[str, dict]:
    """Plays a little over a second, which this app's settings make a check due."""
    tab = open_page(client, lesson_id)
    beat(client, lesson_id, tab, 0)
    time.sleep(1.2)
    challenge = beat(client, lesson_id, tab, 1.2).json["challenge"]
    assert challenge is not None
    return tab, challenge


def qr_text(client, challenge) -> str:
    r = client.get(challenge["qr_png"])
    assert r.status_code == 200 and r.mimetype == "image/png"
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(r.data)))
    assert len(found) == 1
    return found[0].text


def attend_path(client, challenge) -> str:
    text = qr_text(client, challenge)
    assert text.startswith(f"{BASE}/h5/attend/")
    return text[len(BASE):]


def test_player_page_has_the_video_its_tab_and_no_cache(me, lesson_id):
    page = me.get(f"/h5/lesson/{lesson_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert 'src="https://media.example.com/1.mp4"' in html and "playsinline" in html and "player.js" in html
    assert re.search(r'data-tab="\d+\.[A-Za-z0-9_-]{22}"', html)


def test_a_lesson_of_a_course_not_studied_is_not_found(app, me):
    with app.app_context():
        majors = ensure_majors(db.session)
        mining = Course(kind="professional", major=majors["矿业工程"], name="矿业工程专业课", hours_required=40)
        mining.lessons = [Lesson(title="第1讲 矿山", video_url="https://v.example/m.mp4", duration_s=60, hours=1)]
        db.session.add(mining)
        db.session.commit()
        other_id = mining.lessons[0].id
    assert me.get(f"/h5/lesson/{other_id}").status_code == 404


def test_an_unbound_wechat_is_sent_to_bind_first(app, fake_wechat, lesson_id):
    stranger = browser(app, fake_wechat, "oStranger000000000000000001", "/h5/bind")
    for path in (f"/h5/lesson/{lesson_id}", "/h5/attend/whatever-token"):
        r = stranger.get(path)
        assert r.status_code == 302 and r.headers["Location"].endswith("/h5/bind")


def test_heartbeat_answers_the_contract_shape(me, lesson_id):
    tab = open_page(me, lesson_id)
    r = beat(me, lesson_id, tab, 0)
    assert r.status_code == 200
    assert r.json == {"max_position": 0.0, "credited_seconds": 0.0, "lesson_completed": False, "challenge": None}


def test_a_beacon_posted_as_text_plain_is_read_as_json(me, lesson_id):
    tab = open_page(me, lesson_id)
    body = f'{{"lesson_id": {lesson_id}, "position": 0, "tab": "{tab}", "state": "paused"}}'
    r = me.post("/api/play/heartbeat", data=body, content_type="text/plain;charset=UTF-8")
    assert r.status_code == 200 and r.json["challenge"] is None


def test_the_older_page_gets_409_superseded(me, lesson_id):
    first = open_page(me, lesson_id)
    second = open_page(me, lesson_id)
    r = beat(me, lesson_id, first, 0)
    assert r.status_code == 409 and r.json == {"error": "superseded"}
    assert beat(me, lesson_id, second, 0).status_code == 200


def test_unbind_stops_the_page_left_open_in_the_released_wechat(app, me, lesson_id):
    tab = open_page(me, lesson_id)
    assert beat(me, lesson_id, tab, 0).status_code == 200
    result = app.test_cli_runner().invoke(
        args=["trainee", "unbind", "13912340001", "--by", "王老师", "--reason", "学员换了手机"])
    assert result.exit_code == 0 and "播放页面已停止" in result.output
    r = beat(me, lesson_id, tab, 5)
    assert r.status_code == 409 and r.json == {"error": "closed"}
    # The released WeChat can't open another page either: it is bound to no one now.
    assert me.get(f"/h5/lesson/{lesson_id}").status_code != 200


def test_a_heartbeat_needs_a_session_a_sound_body_and_the_page_tab(app, me, lesson_id):
    tab = open_page(me, lesson_id)
    assert beat(app.test_client(), lesson_id, tab, 0).status_code == 401
    for body in ({"lesson_id": lesson_id, "position": "x", "tab": tab, "state": "playing"},
                 {"lesson_id": lesson_id, "position": 0, "tab": tab, "state": "skipping"},
                 {"lesson_id": True, "position": 0, "tab": tab, "state": "playing"}, [1, 2]):
        assert me.post("/api/play/heartbeat", json=body).status_code == 400
    # What another site could forge: the session cookie rides along, the page's tab can't.
    forged = beat(me, lesson_id, "1.AAAAAAAAAAAAAAAAAAAAAA", 0)
    assert forged.status_code == 409


def test_heartbeats_are_rate_limited_per_wechat_user(me, lesson_id):
    tab = open_page(me, lesson_id)
    codes = [beat(me, lesson_id, tab, 0, "paused").status_code for _ in range(121)]
    assert codes[:120] == [200] * 120 and codes[120] == 429


def test_only_the_trainees_own_wechat_confirms_a_check(app, fake_wechat, me, lesson_id, trainee_id):
    tab, challenge = pending_check(me, lesson_id)
    assert me.get(f"/api/attendance/{challenge['id']}").json == {"status": "pending"}
    path = attend_path(me, challenge)
    factories.trainee(app, name="吴二", phone="13912340002", id_card="32058319751212108X", openid=OTHER)
    other = browser(app, fake_wechat, OTHER)

    shown = other.get(path)
    assert shown.status_code == 200 and "周*" in shown.get_data(as_text=True) and "确认" in shown.get_data(as_text=True)
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    refused = other.post(path, data={"csrf_token": _csrf(shown)})
    assert refused.status_code == 403 and "不是您本人" in refused.get_data(as_text=True)
    # No 确认 button after the refusal (pressing it again could only be refused again), a way back instead.
    assert 'id="attend-confirm"' not in refused.get_data(as_text=True) and 'id="back-learn"' in refused.get_data(as_text=True)
    assert me.get(f"/api/attendance/{challenge['id']}").json == {"status": "pending"}

    phone = browser(app, fake_wechat, OPENID)  # the trainee's phone scanning the QR on the computer
    page = phone.get(path)
    assert "周一" in page.get_data(as_text=True)
    confirmed = phone.post(path, data={"csrf_token": _csrf(page)})
    assert confirmed.status_code == 200 and "验证成功" in confirmed.get_data(as_text=True)
    assert me.get(f"/api/attendance/{challenge['id']}").json == {"status": "verified"}
    assert phone.post(path, data={"csrf_token": _csrf(page)}).status_code == 409  # replayed

    with app.app_context():
        check = db.session.scalar(select(AttendanceCheck))
        assert (check.status, check.verified_openid) == ("verified", OPENID)
        assert [r.openid for r in db.session.scalars(select(AttendanceRefusal))] == [OTHER]
    after = beat(me, lesson_id, tab, 1.2, "paused").json
    assert after["challenge"] is None and after["credited_seconds"] > 1


def test_status_and_qr_of_another_trainees_check_are_not_found(app, fake_wechat, me, lesson_id):
    _, challenge = pending_check(me, lesson_id)
    factories.trainee(app, name="吴二", phone="13912340002", id_card="32058319751212108X", openid=OTHER)
    other = browser(app, fake_wechat, OTHER)
    assert other.get(f"/api/attendance/{challenge['id']}").status_code == 404
    assert other.get(challenge["qr_png"]).status_code == 404
    assert me.get("/api/attendance/nosuchcheck").status_code == 404


def test_simultaneous_confirms_over_http_have_one_winner(app, fake_wechat, me, lesson_id):
    _, challenge = pending_check(me, lesson_id)
    path = attend_path(me, challenge)
    phones = [browser(app, fake_wechat, OPENID) for _ in range(6)]
    tokens = [_csrf(phone.get(path)) for phone in phones]
    codes, barrier = [], threading.Barrier(len(phones))

    def confirm(phone, token):
        barrier.wait()
        codes.append(phone.post(path, data={"csrf_token": token}).status_code)

    threads = [threading.Thread(target=confirm, args=pair) for pair in zip(phones, tokens, strict=False)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200] + [409] * 5


def test_an_expired_check_cannot_be_confirmed(make_app, fake_wechat):
    app = make_app(WECHAT_API_BASE=fake_wechat.base_url, ATTENDANCE_INTERVAL_MIN_S=1, ATTENDANCE_INTERVAL_MAX_S=1,
                   ATTENDANCE_TTL_S=2)
    lesson_id = lesson(app, duration_s=300)
    factories.trainee(app, openid=OPENID)
    me = browser(app, fake_wechat, OPENID)
    _, challenge = pending_check(me, lesson_id)
    path = attend_path(me, challenge)
    page = me.get(path)
    time.sleep(2.1)
    r = me.post(path, data={"csrf_token": _csrf(page)})
    assert r.status_code == 410 and "已过期" in r.get_data(as_text=True) and "点击“重新验证”" in r.get_data(as_text=True)
    assert me.get(f"/api/attendance/{challenge['id']}").json == {"status": "expired"}


def test_the_token_is_in_the_qr_only_never_in_the_database_or_logs(app, me, lesson_id, caplog):
    caplog.set_level(logging.DEBUG)
    _, challenge = pending_check(me, lesson_id)
    path = attend_path(me, challenge)
    token = path.rsplit("/", 1)[1]
    assert len(token) >= 22  # at least 128 bits, URL-safe base64
    me.post(path, data={"csrf_token": _csrf(me.get(path))})
    with app.app_context():
        check = db.session.scalar(select(AttendanceCheck))
        assert check.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in repr([(c.public_id, c.token_hash) for c in db.session.scalars(select(AttendanceCheck))])
    assert all(token not in record.getMessage() for record in caplog.records)
    from wxapp.logs import scrub
    assert token not in scrub(f'127.0.0.1 - - "GET {path} HTTP/1.1" 200')


def _csrf(response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def test_a_page_opened_over_another_resumes_where_the_school_recorded_and_says_so(me, lesson_id):
    first = open_page(me, lesson_id)
    assert beat(me, lesson_id, first, 0).status_code == 200
    time.sleep(2.1)
    assert beat(me, lesson_id, first, 2.0).json["max_position"] == 2.0
    page = me.get(f"/h5/lesson/{lesson_id}").get_data(as_text=True)  # a second tab takes over
    assert 'data-resume="2.0"' in page
    assert re.search(r'id="resume-note"[^>]*>另一个播放页面已停止。从学校记录的位置 0:02 继续播放。', page)
