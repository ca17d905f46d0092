"""`flask --app wsgi scheduler run` as operators start it: leads, a second one idles, SIGTERM ends both."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis as redis_lib

from services import keys
from tests.conftest import base_settings

ROOT = Path(__file__).resolve().parents[2]


STARTED = "定时任务进程已启动"


class Scheduler:
    """A `scheduler run` process whose output is collected as it comes."""

    def __init__(self, settings: dict):
        self.process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"], cwd=ROOT,
                                        env={**os.environ, **settings}, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_started(self, timeout: float = 60) -> None:
        """Until it says it started, which it does once its signal handlers are in place."""
        deadline = time.monotonic() + timeout
        while not any(STARTED in line for line in self.lines):
            assert time.monotonic() < deadline and self.process.poll() is None, "".join(self.lines)
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def output(self, timeout: float = 20) -> str:
        self.process.wait(timeout)
        self._reader.join(timeout)
        return "".join(self.lines)


def start(settings: dict) -> Scheduler:
    return Scheduler(settings)


def test_one_process_leads_a_second_idles_and_sigterm_stops_them(database_url, redis_url, tmp_path, make_app):
    if not database_url.startswith("sqlite"):
        pytest.skip("the process itself is the same on both databases; once is enough")
    make_app()  # the schema: without it the process would wait for a database it can lead on
    store = redis_lib.Redis.from_url(redis_url)
    store.delete(keys.scheduler_leader())
    settings = base_settings(database_url, redis_url, str(tmp_path / "instance"))
    processes = [start(settings)]
    try:
        deadline = time.monotonic() + 20
        while store.get(keys.scheduler_leader()) is None:
            assert time.monotonic() < deadline and processes[0].process.poll() is None, "the scheduler did not lead"
            time.sleep(0.1)
        leader_token = store.get(keys.scheduler_leader())
        processes.append(start(settings))
        processes[1].wait_started()  # a SIGTERM before its handler is set would kill it, not stop it
        time.sleep(1)
        assert processes[1].process.poll() is None  # waiting, not failing
        assert store.get(keys.scheduler_leader()) == leader_token  # and not leading
    finally:
        for process in processes:
            process.stop()
        outputs = [process.output() for process in processes]
    assert [process.process.returncode for process in processes] == [0, 0], outputs
    assert STARTED in outputs[0] and STARTED in outputs[1]
    assert store.get(keys.scheduler_leader()) is None  # released on the way out
