"""Attendance checks as the player meets them: issued after a random stretch of playing that the
client can't predict, pending time earns nothing, a pass confirms what was watched since the
last one, an expiry drops it, and a lesson is earned only when watched to the end and checked."""
from __future__ import annotations

import json
import threading

import pytest

from models import AttendanceCheck, LessonProgress, db
from services import overview
from services.study import attendance, play_state
from tests import factories
from tests.study_util import T0, beat, lesson, player

OPENID = "oAttendUser0000000000000001"


@pytest.fixture
def setup(app):
    return lesson(app, duration_s=300), factories.trainee(app, openid=OPENID)


def run(p, lesson_id, tab, beats):
    answers = []
    for at, position, *state in beats:
        answers.append(p.heartbeat(OPENID, beat(lesson_id, position, tab, *(state or ["playing"])), T0 + at))
    return answers


def check_of(app, check_id: str):
    return attendance.by_id(app.extensions["redis"], db.session, check_id, T0)


def token_of(app, check_id: str) -> str:
    return app.extensions["redis"].hget(f"wxapp:attend:check:{check_id}", "token").decode()


def first_challenge(answers):
    return next((i, a.check) for i, a in enumerate(answers) if a.check is not None)


def test_checks_come_after_a_random_stretch_within_the_interval(app, setup):
    lesson_id, trainee_id = setup
    stretches = set()
    for seed in range(6):
        with app.app_context():
            app.extensions["redis"].delete(f"wxapp:play:{trainee_id}")
            p = player(app, seed=seed, interval_min_s=60, interval_max_s=120, heartbeat_s=5)
            tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
            answers = run(p, lesson_id, tab, [(t, t) for t in range(0, 200, 5)])
            index, challenge = first_challenge(answers)
            stretches.add(index * 5)
            assert challenge.expires_at == T0 + index * 5 + 180
    assert all(60 <= s <= 125 for s in stretches) and len(stretches) > 2


def test_time_while_a_check_is_pending_earns_nothing(app, setup):
    lesson_id, trainee_id = setup
    with app.app_context():
        p = player(app, interval_min_s=30, interval_max_s=30)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        answers = run(p, lesson_id, tab, [(0, 0), (15, 15), (30, 30), (45, 45), (60, 60), (75, 75)])
        assert answers[2].check is not None and answers[5].check == answers[2].check
        hot = play_state.read(app.extensions["redis"], trainee_id, [lesson_id]).lessons[lesson_id]
        assert hot.provisional == [[0.0, 30.0]]
        assert db.session.query(AttendanceCheck).one().status == "pending"


def test_a_passed_check_confirms_what_was_watched_since_the_last_one(app, setup):
    lesson_id, trainee_id = setup
    with app.app_context():
        p = player(app, interval_min_s=30, interval_max_s=30)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        answers = run(p, lesson_id, tab, [(0, 0), (15, 15), (30, 30), (31, 30, "paused")])
        check = check_of(app, answers[2].check.id)
        assert p.confirm_check(token_of(app, check.id), check, OPENID, T0 + 60) == "verified"
        row = db.session.query(LessonProgress).one()
        assert json.loads(row.watched) == [[0.0, 30.0]] and row.credited_seconds == 30.0
        assert db.session.query(AttendanceCheck).one().status == "verified"
        # Playing resumes and earns again; the next check is again a random stretch away.
        answers = run(p, lesson_id, tab, [(61, 30), (76, 45)])
        assert answers[-1].credited_seconds == 30.0 and answers[-1].max_position == 45.0
        assert answers[-1].check is None


def test_an_expired_check_drops_the_time_since_the_last_pass_and_asks_again(app, setup):
    lesson_id, trainee_id = setup
    with app.app_context():
        p = player(app, interval_min_s=30, interval_max_s=30, check_ttl_s=60)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        first = run(p, lesson_id, tab, [(0, 0), (15, 15), (30, 30), (31, 30, "paused")])[2].check
        later = run(p, lesson_id, tab, [(100, 30, "paused")])[0]
        assert later.check is None and later.max_position == 0.0  # nothing watched any more
        assert check_of(app, first.id).status == "expired"
        assert db.session.query(AttendanceCheck).filter_by(public_id=first.id).one().status == "expired"
        check = check_of(app, first.id)
        assert attendance.confirm(app.extensions["redis"], db.session, token_of(app, first.id), check, OPENID,
                                  T0 + 101) == "expired"
        # The trainee goes back and plays: a new check at once, before anything more is earned.
        again = run(p, lesson_id, tab, [(110, 0), (125, 15)])
        assert again[0].check is not None and again[0].check.id != first.id
        hot = play_state.read(app.extensions["redis"], trainee_id, [lesson_id]).lessons[lesson_id]
        assert hot.provisional == []


def test_a_check_verified_after_the_player_saw_it_expire_stays_expired(app, setup):
    lesson_id, trainee_id = setup
    with app.app_context():
        p = player(app, interval_min_s=30, interval_max_s=30, check_ttl_s=60)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        first = run(p, lesson_id, tab, [(0, 0), (15, 15), (30, 30)])[2].check
        run(p, lesson_id, tab, [(95, 30, "paused")])  # the player settles the expiry
        check = check_of(app, first.id)
        # A scan whose clock still says "in time" loses to the expiry already recorded.
        assert attendance.confirm(app.extensions["redis"], db.session, token_of(app, first.id), check, OPENID,
                                  T0 + 80) == "expired"


def test_concurrent_confirms_have_exactly_one_winner(app, setup):
    lesson_id, trainee_id = setup
    with app.app_context():
        p = player(app, interval_min_s=30, interval_max_s=30)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        challenge = run(p, lesson_id, tab, [(0, 0), (15, 15), (30, 30)])[2].check
        token = token_of(app, challenge.id)
    outcomes, barrier = [], threading.Barrier(8)

    def confirm():
        with app.app_context():
            check = check_of(app, challenge.id)
            barrier.wait()
            outcomes.append(attendance.confirm(app.extensions["redis"], db.session, token, check, OPENID, T0 + 40))
            db.session.remove()

    threads = [threading.Thread(target=confirm) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["used"] * 7 + ["verified"]


def test_a_lesson_is_earned_when_watched_to_the_end_and_checked(app, setup):
    lesson_id, trainee_id = setup
    redis = app.extensions["redis"]
    with app.app_context():
        version = redis.get(f"wxapp:overview:{OPENID}:v")
        p = player(app)  # the random checks are far away: only the closing check comes
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        answers = run(p, lesson_id, tab, [(t, t) for t in range(0, 301, 15)] + [(300.5, 300, "ended")])
        closing = answers[-1].check
        assert closing is not None and not answers[-1].lesson_completed
        check = check_of(app, closing.id)
        p.confirm_check(token_of(app, closing.id), check, OPENID, T0 + 320)
        row = db.session.query(LessonProgress).one()
        assert row.video_done_at is not None and row.completed_at is not None
        assert redis.get(f"wxapp:overview:{OPENID}:v") != version  # the chat's overview is rebuilt
        page = p.open_page(trainee_id, OPENID, lesson_id, T0 + 400)
        assert page.lesson_completed and page.credited_seconds == 300.0


def test_dragging_to_the_end_is_not_watching_to_the_end(app, setup):
    lesson_id, trainee_id = setup
    with app.app_context():
        p = player(app)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        # Watches 0–100, drags to 280 and plays the last 20 s, then ends.
        answers = run(p, lesson_id, tab, [(t, t) for t in range(0, 101, 15)] + [(100, 100), (101, 280)]
                      + [(116, 295), (121, 300), (121.5, 300, "ended")])
        closing = answers[-1].check
        check = check_of(app, closing.id)
        p.confirm_check(token_of(app, closing.id), check, OPENID, T0 + 130)
        row = db.session.query(LessonProgress).one()
        assert json.loads(row.watched) == [[0.0, 100.0]] and row.video_done_at is None
        assert row.completed_at is None


def test_settling_forgets_the_overview_only_when_hours_change(app, setup):
    lesson_id, trainee_id = setup
    redis = app.extensions["redis"]
    with app.app_context():
        overview.for_openid(db.session, redis, OPENID)
        version = redis.get(f"wxapp:overview:{OPENID}:v")
        p = player(app, interval_min_s=30, interval_max_s=30)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        challenge = run(p, lesson_id, tab, [(0, 0), (15, 15), (30, 30)])[2].check
        check = check_of(app, challenge.id)
        p.confirm_check(token_of(app, challenge.id), check, OPENID, T0 + 40)
        assert redis.get(f"wxapp:overview:{OPENID}:v") == version  # confirmed, but no lesson completed


def test_opening_a_new_page_neither_escapes_nor_postpones_a_check(app, setup):
    lesson_id, trainee_id = setup
    with app.app_context():
        p = player(app, interval_min_s=40, interval_max_s=40)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        run(p, lesson_id, tab, [(0, 0), (15, 15), (30, 30)])  # 30 s of the 40 played
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0 + 31).tab
        answers = run(p, lesson_id, tab, [(32, 30), (47, 45)])
        assert answers[-1].check is not None  # the stretch went on counting across pages
        pending = answers[-1].check
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0 + 50).tab
        assert run(p, lesson_id, tab, [(51, 45)])[0].check == pending
