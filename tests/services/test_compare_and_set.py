"""The one compare-and-set loop: a lost race is read again, a bounded number of times."""
from __future__ import annotations

import pytest

from services import ServiceError, keys
from services.redis_tools import LOST, TRIES, Contended, compare_and_set
from services.study import play_state
from tests import factories
from tests.study_util import T0, beat, lesson, player

OPENID = "oCasUser000000000000000001"


def test_a_lost_attempt_runs_again_and_its_result_is_the_first_that_won():
    answers = iter([LOST, LOST, "written"])
    calls = []

    def attempt():
        calls.append(1)
        return next(answers)

    assert compare_and_set(attempt) == "written" and len(calls) == 3


def test_an_attempt_with_nothing_to_write_returns_at_once():
    assert compare_and_set(lambda: None) is None


def test_a_race_lost_every_time_is_contended_in_chinese_after_the_bound():
    calls = []

    def attempt():
        calls.append(1)
        return LOST

    with pytest.raises(ServiceError) as refused:
        compare_and_set(attempt)
    assert isinstance(refused.value, Contended) and len(calls) == TRIES
    assert refused.value.message == "系统繁忙，请稍后再试"


def _decided_by_the_player(monkeypatch):
    """A common beat is decided and written inside one Redis script, where no race can be lost; the
    others (a check due, pending or settling) are read, decided by the player and written with a
    compare-and-set. Every beat here goes that way: the script declines it."""
    def beat(redis, trainee_id, lesson_id, tab, openid, position, state, now, counter, window_s, allowed,
             heartbeat_s):
        read, count = play_state.read_counting(redis, trainee_id, [lesson_id], counter, window_s)
        return play_state.BeatOutcome(count, state=read)

    monkeypatch.setattr(play_state, "beat", beat)


def test_a_heartbeat_that_loses_its_write_to_another_writer_is_credited_once(app, monkeypatch):
    lesson_id, trainee_id = lesson(app, duration_s=300), factories.trainee(app, openid=OPENID)
    redis = app.extensions["redis"]
    with app.app_context():
        p = player(app)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        p.heartbeat(OPENID, beat(lesson_id, 0, tab), T0)
        real_read, real_counting, reads = play_state.read, play_state.read_counting, []

        def someone_writes_after_the_first_read():
            reads.append(1)
            if len(reads) == 1:
                redis.hincrby(keys.play(trainee_id), "v", 1)  # another process wrote after this read

        def read(*args, **kwargs):
            state = real_read(*args, **kwargs)
            someone_writes_after_the_first_read()
            return state

        def read_counting(*args, **kwargs):
            answer = real_counting(*args, **kwargs)
            someone_writes_after_the_first_read()
            return answer

        monkeypatch.setattr(play_state, "read", read)
        monkeypatch.setattr(play_state, "read_counting", read_counting)
        _decided_by_the_player(monkeypatch)
        answer = p.heartbeat(OPENID, beat(lesson_id, 15, tab), T0 + 15)

    assert len(reads) == 2
    # Two beats this minute (T0 and T0 + 15): the retry after the lost race counted none.
    assert int(redis.get(keys.heartbeat_count(OPENID, int((T0 + 15) // 60)))) == 2
    hot = real_read(redis, trainee_id, [lesson_id]).lessons[lesson_id]
    assert answer.max_position == 15.0 and (hot.provisional, hot.provisional_s) == ([[0.0, 15.0]], 15.0)


def test_a_heartbeat_that_never_wins_its_write_is_refused_as_busy(app, monkeypatch):
    lesson_id, trainee_id = lesson(app, duration_s=300), factories.trainee(app, openid=OPENID)
    with app.app_context():
        p = player(app)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        monkeypatch.setattr(play_state, "write", lambda *args, **kwargs: False)
        _decided_by_the_player(monkeypatch)
        with pytest.raises(Contended):
            p.heartbeat(OPENID, beat(lesson_id, 0, tab), T0)
