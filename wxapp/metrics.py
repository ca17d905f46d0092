"""`GET /metrics` (CONTRACT §10): what operators watch, in Prometheus's text format.

Request timings and counters are kept by prometheus_client in every process that serves
requests. Under gunicorn they live in `PROMETHEUS_MULTIPROC_DIR` (gunicorn.conf.py makes a fresh
one per start and forgets dead workers), and a scrape of any worker adds them up across all
workers. What belongs to the whole deployment, not to a process, is read at scrape time: the
outbox's rows by channel and state (from the database, kept a few seconds in Redis so that several
scrapers cost one query) and when a scheduler last dispatched the outbox (a Redis key it stamps).

The timing sits outside Flask as a WSGI wrapper, so the WeChat callback (answered before Flask's
request machinery, wxapp/wechat/endpoint.py) is measured as every page is. A route is named by its
URL rule (`/api/attempts/<int:attempt_id>`), never by the path, so ids don't explode the labels.
The endpoint answers 404 without `Authorization: Bearer $METRICS_TOKEN`, as when it is unset.
"""
from __future__ import annotations

import hmac
import json
import logging
import os
import time
from collections.abc import Callable, Iterable

from flask import Blueprint, Flask, Response, abort, current_app, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from models import db
from services import keys
from services.logfmt import kv
from services.notices import last_dispatch, notices
from wxapp import config

log = logging.getLogger(__name__)

ROUTE_KEY = "wxapp.route"
CALLBACK_ROUTE = "/wechat"
HEARTBEAT_ROUTE = "/api/play/heartbeat"
EXAM_START_ROUTE = "/api/exams/<int:exam_id>/attempts"
OUTBOX_CACHE_S = 5
# Requests are short: most answer in milliseconds; the exam start with its photo takes up to seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REGISTRY = CollectorRegistry(auto_describe=True)
REQUEST_SECONDS = Histogram("wxapp_http_request_duration_seconds", "Time to answer a request, by route.",
                            ["route"], buckets=BUCKETS, registry=REGISTRY)
CALLBACK_SECONDS = Histogram("wxapp_callback_duration_seconds", "Time to answer a WeChat callback.",
                             buckets=BUCKETS, registry=REGISTRY)
HEARTBEATS = Counter("wxapp_heartbeats", "Player heartbeats answered 200.", registry=REGISTRY)
EXAM_STARTS = Counter("wxapp_exam_starts", "Exam attempts started (201).", registry=REGISTRY)

bp = Blueprint("metrics", __name__)


class Timing:
    """WSGI wrapper: times each request and counts the ones operators count."""

    def __init__(self, wsgi_app: Callable[[dict, Callable], Iterable[bytes]]):
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        status: list[str] = []

        def recording_start_response(code: str, headers: list, exc_info=None):
            status.append(code)
            return start_response(code, headers, exc_info) if exc_info else start_response(code, headers)

        try:
            return self.wsgi_app(environ, recording_start_response)
        finally:
            self._observe(environ, status[0][:3] if status else "500", time.perf_counter() - started)

    @staticmethod
    def _observe(environ: dict, code: str, seconds: float) -> None:
        route = CALLBACK_ROUTE if environ.get("PATH_INFO") == CALLBACK_ROUTE else environ.get(ROUTE_KEY, "unmatched")
        REQUEST_SECONDS.labels(route).observe(seconds)
        if route == CALLBACK_ROUTE:
            CALLBACK_SECONDS.observe(seconds)
        elif route == HEARTBEAT_ROUTE and code == "200":
            HEARTBEATS.inc()
        elif route == EXAM_START_ROUTE and code == "201":
            EXAM_STARTS.inc()


def _name_route(endpoint: str | None, values: dict | None) -> None:
    """Runs before every before_request hook, so a request one of them refuses is still named."""
    rule = request.url_rule
    if rule is not None:
        request.environ[ROUTE_KEY] = rule.rule


class DeploymentCollector(Collector):
    """What belongs to the deployment rather than a process: the outbox and the scheduler's last dispatch."""

    def collect(self):
        rows = GaugeMetricFamily("wxapp_outbox_rows", "Outbox rows by channel and state.",
                                 labels=["channel", "state"])
        for channel, states in sorted(outbox_counts().items()):
            for state, count in sorted(states.items()):
                rows.add_metric([channel, state], count)
        yield rows
        last = dispatch_last_run()
        if last is not None:
            yield GaugeMetricFamily("wxapp_dispatch_last_run_timestamp_seconds",
                                    "When a scheduler last ran the outbox dispatch (Unix time).", value=last)


def outbox_counts() -> dict[str, dict[str, int]]:
    """{channel: {state: rows}}, from Redis when a scrape of the last few seconds counted them."""
    redis = current_app.extensions["redis"]
    key = keys.metrics_outbox_counts()
    try:
        cached = redis.get(key)
    except Exception:  # a scrape still answers without Redis
        cached = None
    if cached is not None:
        found: dict[str, dict[str, int]] = json.loads(cached)
        return found
    counts = notices.counts(db.session)
    try:
        redis.set(key, json.dumps(counts), ex=OUTBOX_CACHE_S)
    except Exception:
        log.warning(kv("metrics_cache_unavailable"))
    return counts


def dispatch_last_run() -> float | None:
    try:
        last = last_dispatch.read(current_app.extensions["redis"])
    except Exception:  # a scrape still answers without Redis
        return None
    return last.timestamp() if last else None


def _authorized() -> bool:
    token = config.current().metrics_token
    if not token:
        return False
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@bp.get("/metrics")
def metrics() -> Response:
    if not _authorized():
        abort(404)
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
        process_part = generate_latest(registry)
    else:
        process_part = generate_latest(REGISTRY)
    deployment = CollectorRegistry(auto_describe=False)
    deployment.register(DeploymentCollector())
    body = process_part + generate_latest(deployment)
    return Response(body, mimetype="text/plain; version=0.0.4; charset=utf-8")


def install(app: Flask) -> None:
    app.url_value_preprocessor(_name_route)
    app.register_blueprint(bp)
    app.wsgi_app = Timing(app.wsgi_app)
