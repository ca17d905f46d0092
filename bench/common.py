"""Shared pieces of the benchmarks: a temporary PostgreSQL database (tests/pgtemp.py), gunicorn, wrk.

Benchmarks print their figures; they assert nothing about speed (the targets are read by people).
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.pgtemp import DEFAULT_ADMIN_DSN, throwaway_database

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_DSN = os.environ.get("WXAPP_BENCH_PG_ADMIN", DEFAULT_ADMIN_DSN)
VENV_BIN = Path(sys.executable).parent


def production_env(database_url: str, redis_url: str, **extra) -> dict:
    """The environment of a production start, pointed at local throwaway services."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update({
        "WXAPP_ENV": "production",
        "SECRET_KEY": "bench-secret-" + "x" * 40,
        "PII_KEY": "bench-pii-key-" + "y" * 40,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PUBLIC_BASE_URL": "https://wx.bench.example",
        "WECHAT_APPID": "wxbench000000000",
        "WECHAT_SECRET": "bench-secret",
        "WECHAT_TOKEN": "bench-token",
        "WECHAT_API_BASE": "https://api.weixin.qq.com/",
        "GUNICORN_ACCESS_LOG": os.devnull,
    })
    env.update(extra)
    return env


def temporary_postgres() -> contextlib.AbstractContextManager[str]:
    """A throwaway database on the benches' server (`WXAPP_BENCH_PG_ADMIN`); yields its URL."""
    return throwaway_database("wxapp_bench", PG_ADMIN_DSN)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


def wait_for_workers(log_path: str, workers: int, timeout: float = 60) -> None:
    """Waits until every worker has loaded the app (gunicorn.conf.py logs "Worker ready").

    The port answers as soon as the arbiter listens; a load started then lands all its
    keep-alive connections on the first worker up, which then carries them alone on one core."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Path(log_path).read_text(errors="replace").count("Worker ready") >= workers:
            return
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn workers not ready after {timeout} s:\n" + Path(log_path).read_text()[-2000:])


@contextlib.contextmanager
def gunicorn(app_spec: str, env: dict):
    """Runs `gunicorn -c gunicorn.conf.py APP` on a free loopback port; yields the port once
    every worker is ready."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="wxapp-bench-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", app_spec],
        cwd=ROOT, env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}, stdout=log, stderr=log,
    )
    try:
        wait_for_port(port)
        wait_for_workers(log.name, int(env.get("GUNICORN_WORKERS") or os.cpu_count() * 2 + 1))
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(20)
        if proc.poll() is None:
            proc.kill()
        log.close()
        os.unlink(log.name)


def require_wrk() -> str:
    path = shutil.which("wrk")
    if not path:
        sys.exit("bench: wrk is needed for the load (Debian: apt-get install wrk)")
    return path


_RESULT = re.compile(r"^RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)$", re.M)


def run_wrk(port: int, script: Path, seconds: int, connections: int, threads: int = 2, env=None) -> dict:
    """Runs wrk with a Lua script whose `done` prints a RESULT line; returns its figures."""
    out = subprocess.run(
        [require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(script),
         f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True, env=env, cwd=ROOT,
    ).stdout
    match = _RESULT.search(out)
    if not match:
        raise RuntimeError("wrk printed no RESULT line:\n" + out)
    requests, duration_us, p50, p90, p99, errors = match.groups()
    return {
        "requests": int(requests),
        "rps": int(requests) / (int(duration_us) / 1e6),
        "p50_ms": float(p50) / 1000, "p90_ms": float(p90) / 1000, "p99_ms": float(p99) / 1000,
        "errors": int(errors),
    }
