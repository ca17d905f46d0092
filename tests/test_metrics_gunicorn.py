"""/metrics under gunicorn: a scrape answered by any worker adds up every worker's requests
(prometheus_client's multiprocess mode, set up by gunicorn.conf.py)."""
from __future__ import annotations

import subprocess
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from prometheus_client.parser import text_string_to_metric_families

from bench.common import VENV_BIN, gunicorn, production_env
from tests.pgtemp import throwaway_database

TOKEN = "metrics-token-gunicorn"
REQUESTS = 24


def _get(port: int, path: str, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Connection": "close", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, ""


def _healthz_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "wxapp_http_request_duration_seconds_count" and sample.labels == {"route": "/healthz"}:
                return sample.value
    return 0.0


def test_every_scrape_adds_up_all_workers(redis_url, tmp_path):
    with throwaway_database("wxapp_metrics") as database_url:  # its own: `db upgrade` starts from nothing
        _scrapes_add_up(database_url, redis_url, tmp_path)


def _scrapes_add_up(postgres_url: str, redis_url: str, tmp_path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_stale.db").write_bytes(b"left by an earlier start")
    env = production_env(postgres_url, redis_url, METRICS_TOKEN=TOKEN, GUNICORN_WORKERS="2", GUNICORN_THREADS="1",
                         PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), STORAGE_URL=str(tmp_path / "photos"))
    upgrade = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"], env=env,
                             capture_output=True, text=True)
    assert upgrade.returncode == 0, upgrade.stderr[-3000:]
    with gunicorn("wsgi:app", env) as port:
        assert not (metrics_dir / "counter_stale.db").exists()  # emptied at the start
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: _get(port, "/healthz")[0], range(REQUESTS)))
        assert statuses == [200] * REQUESTS
        assert _get(port, "/metrics")[0] == 404
        auth = {"Authorization": f"Bearer {TOKEN}"}
        scrapes = [_get(port, "/metrics", auth) for _ in range(4)]
        assert all(status == 200 for status, _ in scrapes)
        assert [_healthz_count(text) for _, text in scrapes] == [REQUESTS] * 4
        worker_files = {path.name.rsplit("_", 1)[-1] for path in metrics_dir.glob("histogram_*.db")}
        assert len(worker_files) == 2, worker_files  # both workers answered and both are counted
