"""The heartbeat's Lua scripts run on a connection each thread keeps (play_state.HotScript): same
answers as through the client, the rate count and the state's compare-and-set unchanged, and a
connection that breaks or a server that forgot its scripts costs nothing but a retry."""
from __future__ import annotations

import json
import random
import threading

import redis as redis_lib

from services import keys
from services.study import play_state
from services.study.play_state import HotScript
from services.study.player import Superseded, TooManyBeats
from tests import factories
from tests.study_util import T0, beat, lesson, player

ECHO = HotScript("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[2])}")


def _client(redis) -> redis_lib.Redis:
    """Another client of the same server and database (its own pool)."""
    kwargs = redis.connection_pool.connection_kwargs
    return redis_lib.Redis(host=kwargs["host"], port=kwargs["port"], db=kwargs["db"])


def test_a_script_answers_as_through_the_client_on_one_connection_per_thread(redis):
    assert ECHO(redis, ["k", "n"], ["a"]) == [b"k", b"a", 1]
    held = HotScript._held.value[2]
    assert ECHO(redis, ["k", "n"], [2]) == [b"k", b"2", 2]
    assert HotScript._held.value[2] is held  # the same connection, outside the pool
    assert held not in redis.connection_pool._in_use_connections
    seen = []
    thread = threading.Thread(target=lambda: seen.append((ECHO(redis, ["k", "n"], ["b"]), HotScript._held.value[2])))
    thread.start()
    thread.join()
    assert seen[0][0] == [b"k", b"b", 3] and seen[0][1] is not held  # another thread, another connection
    assert redis.register_script(ECHO.source)(keys=["k", "n"], args=["c"]) == [b"k", b"c", 4]


def test_a_server_that_forgot_the_script_or_dropped_the_connection_is_answered_after_a_retry(redis):
    assert ECHO(redis, ["k", "n"], ["a"])[2] == 1
    redis.script_flush()
    assert ECHO(redis, ["k", "n"], ["a"])[2] == 2  # EVAL loaded it again
    held = HotScript._held.value[2]
    redis.client_kill_filter(_id=held.client_id if hasattr(held, "client_id") else _client_id(redis, held))
    assert ECHO(redis, ["k", "n"], ["a"])[2] == 3  # reconnected by the connection's retry
    assert HotScript._held.value[2] is held


def _client_id(redis, conn) -> int:
    conn.send_command("CLIENT", "ID")
    return int(conn.read_response())


def test_a_thread_keeps_one_connection_the_last_clients(redis):
    other = _client(redis)
    ECHO(redis, ["k", "n"], ["a"])
    first = HotScript._held.value[2]
    assert ECHO(other, ["k", "n"], ["a"])[2] == 2
    assert HotScript._held.value[0] is other.connection_pool and first._sock is None  # the first one closed
    assert ECHO(redis, ["k", "n"], ["a"])[2] == 3
    other.close()


def test_a_client_bound_to_one_connection_goes_through_the_client(redis):
    single = redis_lib.Redis(connection_pool=redis.connection_pool, single_connection_client=True)
    HotScript._held.value = None
    assert ECHO(single, ["k", "n"], ["a"]) == [b"k", b"a", 1]
    assert HotScript._held.value is None
    single.close()


def test_reading_counts_the_beat_and_the_write_is_a_compare_and_set_on_the_version(redis):
    counter = keys.heartbeat_count("oOpenid", 1)
    state, count = play_state.read_counting(redis, 7, [3], counter, 61)
    assert count == 1 and 0 < redis.ttl(counter) <= 61 and state.version == "" and not state.tab
    state.tab, state.lesson_id, state.openid = "7.tab", 3, "oOpenid"
    assert play_state.write(redis, state)
    assert not play_state.write(redis, state)  # written since this state was read: refused
    again, count = play_state.read_counting(redis, 7, [3], counter, 61)
    assert count == 2 and again.version == "1" and again.owns("7.tab", 3, "oOpenid")
    assert redis.ttl(keys.play(7)) > 13 * 24 * 3600


# -- the heartbeat in one round trip (play_state._BEAT) ---------------------------------------

def _decided_in_python(monkeypatch):
    """Makes every beat come back read, as the script declines one: the player decides it."""
    def beat(redis, trainee_id, lesson_id, tab, openid, position, state, now, counter, window_s, allowed,
             heartbeat_s):
        read, count = play_state.read_counting(redis, trainee_id, [lesson_id], counter, window_s)
        return play_state.BeatOutcome(count, state=read if count <= allowed else None)

    monkeypatch.setattr(play_state, "beat", beat)


def _hot(redis, trainee_id: int, lesson_id: int) -> tuple:
    """The trainee's hot state, but for what names the trainee and the page."""
    raw = redis.hgetall(keys.play(trainee_id))
    packed = json.loads(raw[b"s"])
    return (packed[3:], bool(raw.get(b"chk")), bool(raw.get(b"ok")), json.loads(raw[f"L:{lesson_id}".encode()]),
            int(raw[b"v"]))


def _watching(rng: random.Random, beats: int):
    """(now, position, state) of a trainee's beats: mostly playing on, sometimes fast or slow, a
    seek back or ahead, a pause, the end, a beat late or early; from the start again past the end."""
    now, position, state = T0, 0.0, "playing"
    for _ in range(beats):
        elapsed = rng.choice([0.4, 3.3, 14.9, 15.0, 15.0, 15.0, 15.2, 16.01, 45.5, 70.0])
        now += elapsed
        if state == "playing":
            position += elapsed * rng.choice([1.0, 1.0, 1.0, 1.005, 1.02, 0.97])
        move = rng.random()
        if move < 0.08:
            position = max(0.0, position - rng.choice([5.0, 30.0, 100.0]))
        elif move < 0.16:
            position += rng.choice([4.0, 8.0, 60.0, 300.0])
        position = 0.0 if position > 600 else position
        state = rng.choices(["playing", "paused", "ended"], [12, 2, 1])[0]
        yield now, position, state


def test_a_beat_decided_by_the_script_is_what_the_player_decides(app, monkeypatch):
    """Two trainees watch alike, beat for beat: one's beats go through the script, the other's are
    all decided in Python. After every beat their answers and their hot states are the same:
    credit, seeks, jumps, pauses, late beats, the end, checks coming due and expiring."""
    lesson_id = lesson(app, duration_s=600)
    fast = factories.trainee(app, openid="oFast0000000000000000001")
    slow = factories.trainee(app, name="吴二", phone="13912340002", id_card="32058319751212108X",
                             openid="oSlow0000000000000000001")
    redis = app.extensions["redis"]
    with app.app_context():
        players = {fast: player(app, seed=3, interval_min_s=40, interval_max_s=90, check_ttl_s=30),
                   slow: player(app, seed=3, interval_min_s=40, interval_max_s=90, check_ttl_s=30)}
        openids = {fast: "oFast0000000000000000001", slow: "oSlow0000000000000000001"}
        tabs = {t: players[t].open_page(t, openids[t], lesson_id, T0).tab for t in players}
        outcomes, checks, rng = [], 0, random.Random(6)
        real_beat = play_state.beat

        def recorded_beat(*args, **kwargs):
            outcomes.append(real_beat(*args, **kwargs))
            return outcomes[-1]

        for now, position, state in _watching(random.Random(5), 160):
            answers = {}
            for trainee_id in (fast, slow):
                if trainee_id == slow:
                    _decided_in_python(monkeypatch)
                else:
                    monkeypatch.setattr(play_state, "beat", recorded_beat)
                answers[trainee_id] = players[trainee_id].heartbeat(
                    openids[trainee_id], beat(lesson_id, round(position, 2), tabs[trainee_id], state), now)
                monkeypatch.undo()
            got, want = answers[fast], answers[slow]
            assert (got.max_position, got.credited_seconds, got.lesson_completed, got.has_exercise) == (
                want.max_position, want.credited_seconds, want.lesson_completed, want.has_exercise)
            assert (got.check is None) == (want.check is None)
            checks += got.check is not None
            if got.check is not None and rng.random() < 0.7:  # scanned: verified, as attendance.confirm marks it
                for trainee_id in (fast, slow):
                    redis.hset(keys.play(trainee_id), "ok", redis.hget(keys.play(trainee_id), "chk"))
            assert _hot(redis, fast, lesson_id) == _hot(redis, slow, lesson_id)
    decided = sum(outcome.done is not None for outcome in outcomes)
    assert decided > 100 and len(outcomes) - decided >= 5 and checks >= 5  # both ways, checks among them
    assert got.credited_seconds > 0  # watching confirmed: credit and checks passed


def test_the_script_counts_every_beat_and_refuses_past_the_limit_without_writing(app):
    lesson_id, trainee_id = lesson(app, duration_s=300), factories.trainee(app, openid="oLimit000000000000000001")
    redis = app.extensions["redis"]
    with app.app_context():
        p = player(app)
        tab = p.open_page(trainee_id, "oLimit000000000000000001", lesson_id, T0).tab
        for i in range(p.settings.beats_per_minute):
            p.heartbeat("oLimit000000000000000001", beat(lesson_id, i * 0.1, tab), T0 + i * 0.1)
        version = redis.hget(keys.play(trainee_id), "v")
        assert int(version) == p.settings.beats_per_minute + 1  # each beat written, in the script
        try:
            p.heartbeat("oLimit000000000000000001", beat(lesson_id, 12.5, tab), T0 + 12.5)
        except TooManyBeats:
            pass
        else:
            raise AssertionError("the 121st beat of a minute was answered")
    assert redis.hget(keys.play(trainee_id), "v") == version
    assert int(redis.get(keys.heartbeat_count("oLimit000000000000000001", int(T0 // 60)))) == 121


def test_a_beat_of_another_page_is_declined_and_refused_as_before(app):
    lesson_id, trainee_id = lesson(app, duration_s=300), factories.trainee(app, openid="oTwo00000000000000000001")
    redis = app.extensions["redis"]
    with app.app_context():
        p = player(app)
        old = p.open_page(trainee_id, "oTwo00000000000000000001", lesson_id, T0).tab
        p.open_page(trainee_id, "oTwo00000000000000000001", lesson_id, T0 + 1)
        version = redis.hget(keys.play(trainee_id), "v")
        try:
            p.heartbeat("oTwo00000000000000000001", beat(lesson_id, 5, old), T0 + 5)
        except Superseded as refused:
            assert refused.reason == "superseded"
        else:
            raise AssertionError("a superseded page was answered")
    assert redis.hget(keys.play(trainee_id), "v") == version
