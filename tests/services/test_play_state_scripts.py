"""The heartbeat's Lua scripts run on a connection each thread keeps (play_state.HotScript): same
answers as through the client, the rate count and the state's compare-and-set unchanged, and a
connection that breaks or a server that forgot its scripts costs nothing but a retry."""
from __future__ import annotations

import threading

import redis as redis_lib

from services import keys
from services.study import play_state
from services.study.play_state import HotScript

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
