"""`make run` serves the app and runs the scheduler beside it (CONTRACT §1), on the port asked for,
and stops the scheduler with the app. Driven here with a stand-in for `flask` that records its calls."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# The stand-in: `scheduler run` waits for SIGTERM and records it; `run` records its arguments and
# PUBLIC_BASE_URL, waits until the scheduler is up, then returns as a stopped server would.
FAKE_FLASK = """
import os, signal, sys, time
log = sys.argv[1]
args = sys.argv[2:]
def note(line):
    with open(log, "a") as f:
        f.write(line + "\\n")
if args[:2] == ["scheduler", "run"]:
    signal.signal(signal.SIGTERM, lambda *_: (note("scheduler stopped"), sys.exit(0)))
    note("scheduler started " + os.environ["PUBLIC_BASE_URL"])
    while True:
        time.sleep(0.05)
for _ in range(200):
    if "scheduler started" in open(log).read():
        break
    time.sleep(0.05)
note("serve " + " ".join(args) + " " + os.environ["PUBLIC_BASE_URL"])
"""


def run_dev(tmp_path, **env) -> list[str]:
    stub = tmp_path / "fake_flask.py"
    stub.write_text(FAKE_FLASK)
    log = tmp_path / "calls.log"
    log.write_text("")
    environ = {k: v for k, v in os.environ.items() if k not in ("PORT", "PUBLIC_BASE_URL")}
    environ.update(env, FLASK=f"{sys.executable} {stub} {log}")
    done = subprocess.run([str(REPO / "scripts" / "dev-run")], cwd=REPO, env=environ, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return log.read_text().splitlines()


def test_make_run_starts_the_scheduler_beside_the_app_and_stops_it_with_the_app(tmp_path):
    calls = run_dev(tmp_path)

    assert calls == ["scheduler started http://127.0.0.1:5000",
                     "serve run --host 127.0.0.1 --port 5000 http://127.0.0.1:5000",
                     "scheduler stopped"]


def test_another_port_moves_the_public_origin_with_it(tmp_path):
    calls = run_dev(tmp_path, PORT="5001")

    assert calls[1] == "serve run --host 127.0.0.1 --port 5001 http://127.0.0.1:5001"
    assert calls[0] == "scheduler started http://127.0.0.1:5001"


def test_make_run_passes_its_port_to_the_script():
    dry = subprocess.run(["make", "-n", "run", "PORT=5001"], cwd=REPO, capture_output=True, text=True, timeout=60)

    assert "PORT=5001" in dry.stdout and "scripts/dev-run" in dry.stdout
