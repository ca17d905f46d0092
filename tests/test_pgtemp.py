"""The one throwaway-PostgreSQL helper: a database of its own, gone after the block."""
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.pgtemp import ADMIN_DSN, throwaway_database


def _exists(name: str) -> bool:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def test_a_throwaway_database_is_dropped_even_with_a_connection_left_open():
    with throwaway_database("wxapp_pgtemp") as url:
        name = make_url(url).database
        assert url.startswith("postgresql+psycopg://") and _exists(name)
        left_open = psycopg.connect(url.replace("+psycopg", ""))

    assert not _exists(name)
    with pytest.raises(psycopg.OperationalError):  # closed by the drop's FORCE
        left_open.execute("SELECT 1")
