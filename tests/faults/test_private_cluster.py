"""The fault suite's own PostgreSQL cluster hangs (SIGSTOP) and comes back (SIGCONT)."""
import psycopg
import pytest


def _select_one(cluster) -> int:
    dsn = cluster.url.replace("+psycopg", "")
    with psycopg.connect(dsn, connect_timeout=2) as conn:
        return conn.execute("SELECT 1").fetchone()[0]


def test_a_hung_cluster_answers_nothing_until_it_is_resumed(servers):
    cluster = servers[1]
    cluster.hang()
    try:
        with pytest.raises(psycopg.OperationalError):
            _select_one(cluster)
    finally:
        cluster.resume()

    assert _select_one(cluster) == 1
