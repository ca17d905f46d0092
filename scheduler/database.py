"""The scheduler's view of the database: is it reachable now, and how long to wait before asking again.

The job store and every job need the database, so the scheduler leads only while it answers. A
probe opens a fresh connection (never a pooled one a restart has killed) and gives up after
PROBE_TIMEOUT_S whatever the server does: a stopped server refuses at once, a hung one (SIGSTOP)
accepts the connection and never answers, so the probe runs in a thread of its own and is
abandoned when late. At most one probe is ever left hanging.
"""
from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from services.logfmt import kv

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 5
CONNECT_TIMEOUT_S = 5
# Waits between two probes while the database is away: quick at first, then every half minute.
BACKOFF_S = (1, 2, 4, 8, 15, 30)


def connect_args(url: str) -> dict[str, object]:
    """A bounded connection set-up on PostgreSQL (libpq's connect_timeout covers the whole handshake),
    and no server-side prepared statements: through PgBouncer in transaction mode a statement
    prepared on one server connection is missing on the next ("prepared statement _pg3_3 does not
    exist": the job store failed every minute or so in the term rehearsal); these few queries gain nothing from them."""
    return {"connect_timeout": CONNECT_TIMEOUT_S, "prepare_threshold": None} if url.startswith("postgresql") else {}


def job_store_engine(url: str) -> Engine:
    """The job store's own engine: connections checked before use, so one killed by a database
    restart is replaced instead of failing the scheduler's next look at its jobs."""
    return create_engine(url, pool_pre_ping=True, pool_size=2, connect_args=connect_args(url))


class DatabaseWatch:
    """Probes the database; logs once when it goes away and once when it is back."""

    def __init__(self, url: str):
        self._engine = create_engine(url, poolclass=NullPool, connect_args=connect_args(url))
        self._failures = 0
        self._hanging: threading.Thread | None = None

    def reachable(self) -> bool:
        error = self._probe()
        if error is None:
            if self._failures:
                log.info(kv("scheduler_database_back", after_probes=self._failures))
            self._failures = 0
            return True
        self.lost(error)
        return False

    def lost(self, error: str) -> None:
        """The database failed a probe or a step of taking the lead."""
        if not self._failures:
            log.warning(kv("scheduler_database_unreachable", error=error, waiting="idle until it answers"))
        self._failures += 1

    def backoff_s(self) -> float:
        """How long to wait before the next probe, growing with the failures in a row."""
        return float(BACKOFF_S[min(max(self._failures - 1, 0), len(BACKOFF_S) - 1)])

    def _probe(self) -> str | None:
        """None when the database answered `SELECT 1` in time, else why not."""
        if self._hanging is not None and self._hanging.is_alive():
            return "hung"  # the last probe still waits for an answer: don't pile up another
        result: list[str | None] = []
        thread = threading.Thread(target=self._ask, args=(result,), name="db-probe", daemon=True)
        thread.start()
        thread.join(PROBE_TIMEOUT_S)
        if thread.is_alive():
            self._hanging = thread
            return "timeout"
        return result[0] if result else "probe crashed"

    def _ask(self, result: list[str | None]) -> None:
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            result.append(None)
        except Exception as exc:  # any failure means "not now"; the name is enough for the log
            result.append(type(exc).__name__)

    def close(self) -> None:
        self._engine.dispose()
