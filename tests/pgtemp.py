"""Throwaway PostgreSQL for the tests, the benches and the scripts: the one place that makes it.

Two kinds, neither needing pytest:
- `throwaway_database()`: a database of its own on the shared server (`WXAPP_TEST_PG_ADMIN`, the
  benches' `WXAPP_BENCH_PG_ADMIN`), created empty and dropped with whatever still holds it open;
- `PrivateCluster`: a cluster of its own (initdb) on a free or given loopback port, its data in a
  temporary directory, which a fault test starts, stops and hangs (SIGSTOP). PostgreSQL refuses to
  run as root, so under root its commands run as the `postgres` user.
"""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
ADMIN_DSN = os.environ.get("WXAPP_TEST_PG_ADMIN", DEFAULT_ADMIN_DSN)


def create_database(prefix: str = "wxapp_tmp", admin_dsn: str = ADMIN_DSN) -> str:
    """A new empty database on the server of `admin_dsn`; its SQLAlchemy URL (psycopg 3)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin_dsn).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


def drop_database(url: str, admin_dsn: str = ADMIN_DSN) -> None:
    """Drops the database of `url`, closing the connections a crashed run left open."""
    name = make_url(url).database
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def throwaway_database(prefix: str = "wxapp_tmp", admin_dsn: str = ADMIN_DSN) -> Iterator[str]:
    """A database for the length of a `with` block; yields its SQLAlchemy URL."""
    url = create_database(prefix, admin_dsn)
    try:
        yield url
    finally:
        drop_database(url, admin_dsn)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def pg_bin() -> Path | None:
    """The PostgreSQL server binaries: `WXAPP_PG_BIN`, or the newest under /usr/lib/postgresql."""
    configured = os.environ.get("WXAPP_PG_BIN")
    candidates = [configured] if configured else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


class PrivateCluster:
    """A PostgreSQL cluster of one's own, made by initdb; `url` names its `wxapp` database."""

    def __init__(self, bin_dir: Path, port: int | None = None) -> None:
        self.bin = bin_dir
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="wxapp-pg-"))
        self.data = self.root / "data"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/wxapp"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.root)

    def start(self) -> PrivateCluster:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")
        return self

    def create_database(self) -> None:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE wxapp")

    def stop(self, mode: str = "fast") -> None:
        self.resume()
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def hang(self) -> None:
        """SIGSTOP the postmaster and every backend: connections open, nothing answers."""
        for pid in self._processes():
            # A backend may exit between the listing and the signal (a client closing).
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self._processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def _processes(self) -> list[int]:
        """The postmaster (from its pid file) and its children (from /proc); none when stopped."""
        try:
            postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                # Fields after the command name, which may itself hold spaces: state, ppid, …
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    children.append(int(stat.parent.name))
        return [postmaster, *children]

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)


class PgBouncer:
    """Debian's pgbouncer in front of a PostgreSQL server, as a multi-host deployment puts it:
    transaction pooling (a server connection per transaction, not per client), `pool_size` server
    connections at most. `url(database)` names a database through it."""

    def __init__(self, server_port: int = 5432, pool_size: int = 4, port: int | None = None) -> None:
        self.server_port, self.pool_size = server_port, pool_size
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="wxapp-pgbouncer-"))
        self.process: subprocess.Popen | None = None

    @staticmethod
    def binary() -> str | None:
        return shutil.which("pgbouncer") or next(iter(glob.glob("/usr/sbin/pgbouncer")), None)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PgBouncer:
        binary = self.binary()
        if binary is None:
            raise RuntimeError("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
        (self.root / "users.txt").write_text('"postgres" ""\n')
        (self.root / "pgbouncer.ini").write_text(
            f"[databases]\n* = host=127.0.0.1 port={self.server_port}\n"
            f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.root / 'users.txt'}\npool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\nmax_client_conn = 500\n"
            "ignore_startup_parameters = extra_float_digits\n")
        command = [binary, str(self.root / "pgbouncer.ini")]
        if os.geteuid() == 0:  # pgbouncer refuses to run as root
            shutil.chown(self.root, "postgres", "postgres")
            for path in self.root.iterdir():
                shutil.chown(path, "postgres", "postgres")
            command = ["runuser", "-u", "postgres", "--", *command]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.root)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("pgbouncer did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)
