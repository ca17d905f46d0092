"""`flask --app wsgi scheduler run` as operators start it: leads, a second one idles, SIGTERM ends both."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis as redis_lib

from services import keys
from tests.conftest import base_settings

ROOT = Path(__file__).resolve().parents[2]


def start(settings: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"], cwd=ROOT,
                            env={**os.environ, **settings}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def test_one_process_leads_a_second_idles_and_sigterm_stops_them(database_url, redis_url, tmp_path):
    if not database_url.startswith("sqlite"):
        pytest.skip("the process itself is the same on both databases; once is enough")
    store = redis_lib.Redis.from_url(redis_url)
    store.delete(keys.scheduler_leader())
    settings = base_settings(database_url, redis_url, str(tmp_path / "instance"))
    processes = [start(settings)]
    try:
        deadline = time.monotonic() + 20
        while store.get(keys.scheduler_leader()) is None:
            assert time.monotonic() < deadline and processes[0].poll() is None, "the scheduler did not lead"
            time.sleep(0.1)
        leader_token = store.get(keys.scheduler_leader())
        processes.append(start(settings))
        time.sleep(3)
        assert processes[1].poll() is None  # waiting, not failing
        assert store.get(keys.scheduler_leader()) == leader_token  # and not leading
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        outputs = [process.communicate(timeout=20)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    assert "定时任务进程已启动" in outputs[0]
    assert store.get(keys.scheduler_leader()) is None  # released on the way out
