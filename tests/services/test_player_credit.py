"""The credit rules on the real Redis and databases, the clock driven by the test: honest play,
jumps, fast play, clock games, replays, and one page at a time."""
from __future__ import annotations

import pytest
from sqlalchemy import event

from models import LessonProgress, db
from services.study import play_state, segments
from services.study.player import PageClosed, Superseded, close_page
from tests import factories
from tests.study_util import T0, beat, lesson, player

OPENID = "oCreditUser0000000000000001"


@pytest.fixture
def setup(app):
    """(lesson id, trainee id) with checks far away, so that only the credit rules act."""
    return lesson(app, duration_s=300), factories.trainee(app, openid=OPENID)


def provisional(app, trainee_id: int, lesson_id: int) -> tuple[list, float]:
    state = play_state.read(app.extensions["redis"], trainee_id, [lesson_id])
    hot = state.lessons[lesson_id]
    return hot.provisional, round(hot.provisional_s, 2)


def play(p, lesson_id, tab, beats):
    """Sends (seconds after T0, position[, state]) beats; returns the last answer."""
    answer = None
    for at, position, *state in beats:
        answer = p.heartbeat(OPENID, beat(lesson_id, position, tab, *(state or ["playing"])), T0 + at)
    return answer


def test_honest_play_is_credited_as_watched(app, setup):
    lesson_id, trainee_id = setup
    with app.app_context():
        p = player(app)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        answer = play(p, lesson_id, tab, [(0, 0), (15, 15), (30, 30.2), (45, 45), (50, 50, "paused")])
        assert provisional(app, trainee_id, lesson_id) == ([[0.0, 50.0]], 50.0)
        assert answer.max_position == 50.0 and answer.check is None


def test_a_forward_jump_earns_nothing_and_nothing_after_it(app, setup):
    lesson_id, trainee_id = setup
    with app.app_context():
        p = player(app)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        answer = play(p, lesson_id, tab, [(0, 0), (15, 15), (30, 200), (45, 215), (60, 230)])
        assert provisional(app, trainee_id, lesson_id) == ([[0.0, 15.0]], 15.0)
        assert answer.max_position == 15.0
        # Going back to where watching stopped earns again.
        play(p, lesson_id, tab, [(61, 15), (76, 30)])
        assert provisional(app, trainee_id, lesson_id) == ([[0.0, 30.0]], 30.0)


def test_fast_play_is_clipped_to_wall_time(app, setup):
    lesson_id, trainee_id = setup
    with app.app_context():
        p = player(app)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        # Played at 2x: 30 s of video every 15 s of wall time.
        play(p, lesson_id, tab, [(t, 2 * t) for t in range(0, 121, 15)])
        parts, seconds = provisional(app, trainee_id, lesson_id)
        assert seconds <= 15 * 1.01 + 0.01  # the first beat's clip; after it the playhead is beyond reach
        assert segments.furthest(parts) < 20


def test_slightly_fast_play_never_outruns_the_clock(app, setup):
    lesson_id, trainee_id = setup
    with app.app_context():
        p = player(app)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        play(p, lesson_id, tab, [(t, 1.1 * t) for t in range(0, 241, 15)])
        parts, seconds = provisional(app, trainee_id, lesson_id)
        assert seconds <= 240 * 1.01 + 0.01 and segments.furthest(parts) <= 240 * 1.01 + 0.01


def test_clock_games_earn_nothing(app, setup):
    lesson_id, trainee_id = setup
    with app.app_context():
        p = player(app)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        # Many beats in one second, each claiming 15 s more: one second of wall time is one second.
        play(p, lesson_id, tab, [(0, 0)] + [(0.1 * i, 15 * i) for i in range(1, 11)])
        assert provisional(app, trainee_id, lesson_id)[1] <= 1.01 + 0.01
        # A beat far later than the heartbeat rhythm (no beats, no checks in between) earns nothing.
        p.open_page(trainee_id, OPENID, lesson_id, T0 + 10)  # a fresh page: start from a clean slate
        tab = play_state.read(app.extensions["redis"], trainee_id, []).tab
        before = provisional(app, trainee_id, lesson_id)[1]
        play(p, lesson_id, tab, [(20, 1), (620, 601)])
        assert provisional(app, trainee_id, lesson_id)[1] == before
        # A beat stamped before the last one (servers' clocks disagree) earns nothing either.
        play(p, lesson_id, tab, [(630, 0), (625, 20)])
        assert provisional(app, trainee_id, lesson_id)[1] == before


def test_replays_add_time_but_not_watched_parts(app, setup):
    lesson_id, trainee_id = setup
    with app.app_context():
        p = player(app)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        play(p, lesson_id, tab, [(0, 0), (15, 15), (30, 30)])
        # The same heartbeat sent twice, then watching 0–30 again.
        play(p, lesson_id, tab, [(30, 30), (31, 0), (46, 15), (61, 30)])
        parts, seconds = provisional(app, trainee_id, lesson_id)
        assert parts == [[0.0, 30.0]] and seconds == 60.0


def test_positions_past_the_end_count_only_to_the_end(app, setup):
    lesson_id, trainee_id = setup
    with app.app_context():
        p = player(app)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        play(p, lesson_id, tab, [(0, 290), (1, 5000)])
        assert provisional(app, trainee_id, lesson_id) == ([], 0.0)  # 290 is beyond anything watched


def test_a_newer_page_supersedes_the_older_one(app, setup):
    lesson_id, trainee_id = setup
    other_lesson = lesson(app, duration_s=200, title="第2讲")
    with app.app_context():
        p = player(app)
        old_tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        play(p, lesson_id, old_tab, [(0, 0), (15, 15)])
        new_tab = p.open_page(trainee_id, OPENID, other_lesson, T0 + 20).tab
        with pytest.raises(Superseded):
            play(p, lesson_id, old_tab, [(30, 30)])
        # The new page starts its own count; the old page's time since its last beat is lost.
        play(p, other_lesson, new_tab, [(21, 0), (36, 15)])
        assert provisional(app, trainee_id, lesson_id) == ([[0.0, 15.0]], 15.0)
        assert provisional(app, trainee_id, other_lesson) == ([[0.0, 15.0]], 15.0)
        # A tab of another trainee, a forged tab, or the right tab on another lesson: superseded too.
        for forged in (new_tab.replace(str(trainee_id), str(trainee_id + 1), 1), "1.forged", new_tab):
            with pytest.raises(Superseded):
                p.heartbeat(OPENID, beat(lesson_id if forged == new_tab else other_lesson, 20, forged), T0 + 40)
        with pytest.raises(Superseded):  # the right tab from another WeChat
            p.heartbeat("oSomeoneElse", beat(other_lesson, 20, new_tab), T0 + 40)


def test_a_closed_page_earns_nothing_and_a_new_page_plays_again(app, setup):
    lesson_id, trainee_id = setup
    with app.app_context():
        p = player(app)
        assert close_page(app.extensions["redis"], trainee_id) is False  # no page open: nothing to close
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        play(p, lesson_id, tab, [(0, 0), (15, 15)])
        assert close_page(app.extensions["redis"], trainee_id) is True
        with pytest.raises(PageClosed):
            play(p, lesson_id, tab, [(30, 30)])
        assert provisional(app, trainee_id, lesson_id) == ([[0.0, 15.0]], 15.0)
        # The trainee, bound again (here to another WeChat), opens a page that plays as before.
        new_tab = p.open_page(trainee_id, "oNewPhone", lesson_id, T0 + 60).tab
        p.heartbeat("oNewPhone", beat(lesson_id, 15, new_tab), T0 + 61)
        assert p.heartbeat("oNewPhone", beat(lesson_id, 30, new_tab), T0 + 76).max_position == 30.0
        with pytest.raises(Superseded) as refused:  # the old tab now meets a newer page
            play(p, lesson_id, tab, [(80, 30)])
        assert not isinstance(refused.value, PageClosed)


def test_the_page_resumes_where_watching_stopped(app, setup):
    lesson_id, trainee_id = setup
    with app.app_context():
        p = player(app)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        play(p, lesson_id, tab, [(0, 0), (15, 15), (30, 30), (31, 120, "paused")])  # jumped, then paused
        page = p.open_page(trainee_id, OPENID, lesson_id, T0 + 100)
        assert page.position == 30.0 and page.max_position == 30.0


def test_heartbeats_and_pauses_write_nothing_to_the_database(app, setup):
    lesson_id, trainee_id = setup
    writes = []
    with app.app_context():
        db.session.add(LessonProgress(trainee_id=trainee_id, lesson_id=lesson_id, watched="[[0,20]]",
                                      credited_seconds=20, max_position=20, position=20))
        db.session.commit()
        p = player(app)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab

        def count(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
                writes.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            play(p, lesson_id, tab, [(t, 20 + t) for t in range(0, 256, 15)])
            play(p, lesson_id, tab, [(256, 276, "paused"), (300, 276, "playing"), (315, 291, "paused")])
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert writes == []
        # The page resumes from the hot state; the row keeps the confirmed point until a check passes.
        assert p.open_page(trainee_id, OPENID, lesson_id, T0 + 400).position == 291.0
        assert db.session.query(LessonProgress).one().position == 20.0


def test_a_page_that_took_over_and_closed_before_its_video_loaded_keeps_the_resume_point(app, setup):
    """Tab A plays to 45 s; tab B opens the lesson (A is superseded) and is closed before its video
    reached the resume point: its unload beacon says 0. Reopening resumes at 45 s, not 0:00."""
    lesson_id, trainee_id = setup
    with app.app_context():
        p = player(app)
        tab_a = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        play(p, lesson_id, tab_a, [(0, 0), (15, 15), (30, 30), (45, 45)])
        tab_b = p.open_page(trainee_id, OPENID, lesson_id, T0 + 50)
        assert tab_b.position == 45.0
        with pytest.raises(Superseded):
            play(p, lesson_id, tab_a, [(55, 55)])
        p.heartbeat(OPENID, beat(lesson_id, 0, tab_b.tab, "paused"), T0 + 51)  # the beacon before the seek
        again = p.open_page(trainee_id, OPENID, lesson_id, T0 + 60)
        assert again.position == 45.0 and again.max_position == 45.0
        # A seek back reported by a page that played is the trainee's choice, and is kept.
        play(p, lesson_id, again.tab, [(61, 45, "paused"), (62, 10, "paused")])
        assert p.open_page(trainee_id, OPENID, lesson_id, T0 + 70).position == 10.0
