"""GET /metrics (CONTRACT §10): hidden without its token; request timings by route, the callback,
heartbeats, exam starts, the outbox by channel and state and the scheduler's last dispatch."""
from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from models import Notice, OutboxMessage, db
from scheduler import jobs
from tests import factories
from tests.conftest import TEST_TOKEN
from tests.exam_util import bank, full_hours, photo
from tests.h5.test_exam_api import Browser
from tests.h5.test_player_pages import beat, browser, open_page
from tests.notify_util import id_card
from tests.study_util import lesson
from tests.wechat_util import WeChatServer, event_xml

TOKEN = "metrics-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app(make_app, fake_wechat, tmp_path):
    return make_app(METRICS_TOKEN=TOKEN, WECHAT_API_BASE=fake_wechat.base_url, STORAGE_URL=str(tmp_path / "p"))


def scrape(client) -> dict[tuple[str, tuple], float]:
    """Every sample as {(name, sorted labels): value}."""
    r = client.get("/metrics", headers=AUTH)
    assert r.status_code == 200 and r.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(r.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_is_not_found_without_the_token_or_when_unset(make_app):
    hidden = make_app().test_client()
    assert hidden.get("/metrics", headers=AUTH).status_code == 404
    client = make_app(METRICS_TOKEN=TOKEN).test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 404
    assert client.get("/metrics", headers=AUTH).status_code == 200


def test_requests_are_timed_by_route_rule_not_by_path(app):
    client = app.test_client()
    before = scrape(client)
    for _ in range(3):
        client.get("/healthz")
    client.get("/verify/NO-SUCH-NUMBER-1")
    client.get("/verify/NO-SUCH-NUMBER-2")
    after = scrape(client)
    name = "wxapp_http_request_duration_seconds_count"
    assert value(after, name, route="/healthz") - value(before, name, route="/healthz") == 3
    verify = "/verify/<number>"
    assert value(after, name, route=verify) - value(before, name, route=verify) == 2
    assert not any("NO-SUCH" in str(labels) for _, labels in after)


def test_the_callback_is_timed_though_it_is_answered_before_flask(app):
    client = app.test_client()
    before = scrape(client)
    WeChatServer(client, TEST_TOKEN).post(event_xml("oMetrics000000000000000000001", "subscribe"))
    after = scrape(client)
    assert value(after, "wxapp_callback_duration_seconds_count") - value(before, "wxapp_callback_duration_seconds_count") == 1
    name = "wxapp_http_request_duration_seconds_count"
    assert value(after, name, route="/wechat") - value(before, name, route="/wechat") == 1


def test_heartbeats_answered_are_counted_refused_ones_are_not(app, fake_wechat):
    lesson_id = lesson(app, duration_s=300)
    factories.trainee(app, openid="oMetricsBeat0000000000000001")
    client = browser(app, fake_wechat, "oMetricsBeat0000000000000001")
    tab = open_page(client, lesson_id)
    before = scrape(client)
    assert beat(client, lesson_id, tab, 0).status_code == 200
    assert beat(client, lesson_id, tab, 1).status_code == 200
    assert beat(client, lesson_id, "1.not-the-page-tab-aaaaaaaaaaa", 2).status_code != 200
    after = scrape(client)
    assert value(after, "wxapp_heartbeats_total") - value(before, "wxapp_heartbeats_total") == 2


def test_exam_starts_are_counted_once_per_new_attempt(app, fake_wechat):
    trainee_id = factories.trainee(app, openid="oMetricsExam0000000000000001")
    bank(app)
    full_hours(app, trainee_id)
    taker = Browser(app, fake_wechat, "oMetricsExam0000000000000001")
    exam_id = taker.get("/api/exams").json[0]["id"]
    before = scrape(taker.client)
    assert taker.start(exam_id, photo()).status_code == 201
    assert taker.start(exam_id, photo()).status_code == 200  # the attempt in progress: not a new start
    after = scrape(taker.client)
    assert value(after, "wxapp_exam_starts_total") - value(before, "wxapp_exam_starts_total") == 1


def test_outbox_rows_by_channel_and_state_and_the_last_dispatch(app, redis):
    trainees = [factories.trainee(app, phone=f"1391234100{i}", id_card=id_card(i),
                                  openid=f"oMetricsOutbox00000000000000{i}") for i in range(3)]
    with app.app_context():
        notice = Notice(kind="class_open", key="metrics-test", requested_by="test")
        db.session.add(notice)
        db.session.flush()
        for trainee_id, (channel, state) in zip(trainees, [("wechat", "pending"), ("wechat", "pending"),
                                                           ("sms", "failed")], strict=True):
            db.session.add(OutboxMessage(notice_id=notice.id, trainee_id=trainee_id, channel=channel, state=state))
        db.session.commit()
    client = app.test_client()
    samples = scrape(client)
    assert value(samples, "wxapp_outbox_rows", channel="wechat", state="pending") == 2
    assert value(samples, "wxapp_outbox_rows", channel="sms", state="failed") == 1
    assert not any(name == "wxapp_dispatch_last_run_timestamp_seconds" for name, _ in samples)

    jobs.bind(app)
    jobs.dispatch_outbox()
    redis.delete(*redis.keys("*metrics:outbox*"))  # the few seconds' cache of the counts
    samples = scrape(client)
    stamp = value(samples, "wxapp_dispatch_last_run_timestamp_seconds")
    assert stamp > 1_700_000_000
    text = client.get("/metrics", headers=AUTH).get_data(as_text=True)
    assert re.search(r"^wxapp_outbox_rows\{", text, re.M)
