"""The term rehearsal's cheap pieces (bench/rehearsal): the WeChat stand-in's counts and signing,
the seed, and the PASS/FAIL verdict from figures. The rehearsal itself is run by hand (bench/term.py)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import check_signature

from bench.rehearsal import report
from bench.rehearsal.seed import Cast, openid, seed
from bench.rehearsal.standin import Ledger, job_finish_xml, signed_callback
from bench.term import nginx_at_kill, rss_growth

AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def send(ledger: Ledger, who: str, client_msg_id: str | None, now: float = 0.0, template: str = "tmpl"):
    return ledger.template_send({"touser": who, "template_id": template, "client_msg_id": client_msg_id}, now)


def test_a_resend_of_one_client_msg_id_reaches_the_phone_once():
    ledger = Ledger()
    first, delivered = send(ledger, "o1", "row-7")
    again, delivered_again = send(ledger, "o1", "row-7", now=30)
    assert delivered and not delivered_again
    assert again["msgid"] == first["msgid"]
    stats = ledger.stats()
    assert stats["delivered_messages"] == 1 and stats["duplicates"] == 0 and stats["resends_absorbed"] == 1


def test_the_same_notice_under_two_client_msg_ids_counts_as_a_duplicate():
    ledger = Ledger()
    send(ledger, "o1", "row-7")
    send(ledger, "o1", "row-8")
    send(ledger, "o2", "row-9")
    send(ledger, "o1", "row-10", template="other")
    stats = ledger.stats()
    assert stats["duplicates"] == 1 and stats["delivered_openids"] == 2 and stats["delivered_messages"] == 4
    assert stats["templates"] == {"tmpl": {"reached": 2, "duplicates": 1}, "other": {"reached": 1, "duplicates": 0}}


def test_past_the_window_a_resend_is_delivered_again():
    ledger = Ledger(window_s=600)
    send(ledger, "o1", "row-7", now=0)
    _, delivered = send(ledger, "o1", "row-7", now=601)
    assert delivered and ledger.stats()["duplicates"] == 1


def test_a_refused_openid_gets_43101_and_nothing_delivered():
    ledger = Ledger(refused={"o1"})
    answer, delivered = send(ledger, "o1", "row-7")
    assert answer["errcode"] == 43101 and not delivered
    assert ledger.stats()["delivered_messages"] == 0


def test_an_oauth_code_answers_its_openid_once():
    ledger = Ledger()
    assert ledger.oauth("code-oTerm00000001-ab12")["openid"] == "oTerm00000001"
    assert ledger.oauth("code-oTerm00000001-ab12")["errcode"] == 40029
    assert ledger.oauth("forged")["errcode"] == 40029


def test_texts_are_counted_per_phone_and_listed_by_query():
    ledger = Ledger()
    assert ledger.send_sms({"PhoneNumbers": "13900000001", "OutId": "r1", "TemplateCode": "T"})["Code"] == "OK"
    ledger.send_sms({"PhoneNumbers": "13900000001", "OutId": "r2", "TemplateCode": "T"})
    found = ledger.query_sms({"PhoneNumber": "13900000001"})["SmsSendDetailDTOs"]["SmsSendDetailDTO"]
    assert [d["OutId"] for d in found] == ["r1", "r2"]
    assert ledger.stats()["text_duplicates"] == 1 and ledger.stats()["texted_phones"] == 1


def test_a_signed_callback_passes_wechats_checks_and_decrypts_to_the_event():
    from urllib.parse import parse_qsl

    xml = job_finish_xml("oTerm1", 1234)
    query, body = signed_callback(xml, "tok", AES, "wxappid0000000001")
    q = dict(parse_qsl(query))
    check_signature("tok", q["signature"], q["timestamp"], q["nonce"])  # raises when wrong
    plain = WeChatCrypto("tok", AES, "wxappid0000000001").decrypt_message(body, q["msg_signature"], q["timestamp"],
                                                                            q["nonce"])
    assert "<MsgID>1234</MsgID>" in plain and "TEMPLATESENDJOBFINISH" in plain
    query, body = signed_callback(xml, "tok", None, "wxappid0000000001")
    assert body == xml and "encrypt_type" not in query


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_seed_binds_every_trainee_in_a_class_of_its_major_and_opens_the_exam_of_the_first(make_app):
    from models import ClassMember, Enrollment, HoursSummary, TrainingClass, WechatUser, db
    from models.faces import FaceConsent

    app = make_app()
    cast = Cast(trainees=30, exam_takers=4)
    plan = seed(app, cast)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WechatUser).where(WechatUser.trainee_id.is_not(None))) == 30
        assert db.session.scalar(select(WechatUser.trainee_id).where(WechatUser.openid == openid(7))) == 7
        per_class = dict(db.session.execute(select(TrainingClass.code, func.count()).join(ClassMember)
                                            .group_by(TrainingClass.code)).all())
        assert per_class == {code: 5 for code in plan["classes"]}
        same_major = db.session.execute(
            select(func.count()).select_from(ClassMember).join(TrainingClass)
            .join(Enrollment, (Enrollment.trainee_id == ClassMember.trainee_id)
                  & (Enrollment.major_id == TrainingClass.major_id))).scalar()
        assert same_major == 30
        earned = dict(db.session.execute(select(HoursSummary.trainee_id, func.sum(HoursSummary.hours_earned))
                                         .group_by(HoursSummary.trainee_id)).all())
        assert set(earned) == {1, 2, 3, 4} and all(v == 56 for v in earned.values())
        assert set(db.session.scalars(select(FaceConsent.trainee_id))) == {1, 2, 3, 4}  # the exam takers
    assert len(set(openid(n) for n in range(1, 20_001))) == 20_000 and all(len(openid(n)) == 28 for n in (1, 20_000))
    assert cast.refused() == []
    assert Cast(trainees=250, exam_takers=0).refused() == [openid(100), openid(200)]


GOOD = {
    "errors": {}, "requests": 1000,
    "stats": {"callback": {"p99": 120, "p50": 20, "count": 50}, "heartbeat": {"p99": 90, "p50": 10, "count": 900},
              "exam start": {"p99": 2500, "p50": 900, "count": 20}},
    "notice": {"expected": 500, "delivered_once": 500, "within_window": 500, "duplicates": 0, "missing": 0,
               "wechat": 495, "sms": 5, "all_in_s": 40},
    "rss": {"max_growth": 0.04, "worst": "A:worker:1"},
    "connections": {"max_pg": 18, "pool_sum": 20, "max_waiting": 3},
    "kill": {"host": "A", "takeover_s": 31, "credit_lost": 0, "beats_on_dead_host": 0, "beats_after": {}},
}


def test_good_figures_pass_every_row():
    rows = report.judge(GOOD)
    assert len(rows) == 8 and all(r.passed for r in rows), report.table(rows)


@pytest.mark.parametrize("change, failing", [
    ({"errors": {"http_502": 1}}, "0 errors"),
    ({"errors": {"timeout_or_connection": 2}}, "0 errors"),
    ({"stats": {**GOOD["stats"], "heartbeat": {"p99": 201, "p50": 10, "count": 900}}}, "heartbeat p99"),
    ({"stats": {**GOOD["stats"], "exam start": {"p99": None, "count": 0}}}, "exam start p99"),
    ({"notice": {**GOOD["notice"], "duplicates": 1}}, "notices delivered"),
    ({"notice": {**GOOD["notice"], "within_window": 480}}, "notices delivered"),
    ({"rss": {"max_growth": 0.12, "worst": "B:worker:2"}}, "RSS"),
    ({"connections": {"max_pg": 21, "pool_sum": 20}}, "connections"),
    ({"kill": {**GOOD["kill"], "takeover_s": None}}, "takeover"),
    ({"kill": {**GOOD["kill"], "credit_lost": 1}}, "takeover"),
])
def test_each_target_missed_fails_its_row_only(change, failing):
    rows = report.judge({**GOOD, **change})
    assert [r.target for r in rows if not r.passed] == [r.target for r in rows if failing in r.target]
    assert any(failing in r.target for r in rows)


def test_an_unexpected_4xx_is_not_counted_as_an_error():
    assert all(r.passed for r in report.judge({**GOOD, "errors": {"unexpected_409": 3}}))


def test_rss_growth_compares_the_end_with_the_first_sample_after_the_warm_up():
    samples = [{"t": 10, "rss": {"A:worker:1": 50.0}},
               {"t": 70, "rss": {"A:worker:1": 100.0, "B:worker:2": 100.0, "B:scheduler": 100.0}},
               {"t": 130, "rss": {"A:worker:1": 104.0, "B:worker:2": 112.0, "B:scheduler": 150.0}}]
    growth = rss_growth(samples, warmup_s=60)
    assert growth["max_growth"] == pytest.approx(0.12) and growth["worst"].startswith("B:worker:2")
    assert growth["schedulers"] == {"B:scheduler": "100 -> 150 MiB"}
    assert rss_growth(samples[:1], warmup_s=60)["max_growth"] is None


def test_nginx_logs_tell_requests_in_flight_at_the_kill_from_those_sent_to_the_dead_host_after(tmp_path):
    from datetime import datetime

    log = tmp_path / "access.log"
    log.write_text(
        '1000.5 "POST /api/play/heartbeat" 200 0.012 "127.0.0.1:9001, 127.0.0.1:9002" "502, 200"\n'
        '1000.7 "POST /wechat" 502 0.001 "127.0.0.1:9001" "502"\n'
        '1003.0 "POST /api/play/heartbeat" 200 0.010 "127.0.0.1:9002" "200"\n'
        '1003.0 "POST /api/play/heartbeat" 200 0.010 "127.0.0.1:9001" "200"\n'
        '2000.0 "POST /api/play/heartbeat" 200 0.010 "127.0.0.1:9001, 127.0.0.1:9002" "502, 200"\n')
    errors = tmp_path / "nginx-error.log"

    def at(t: float) -> str:
        return datetime.fromtimestamp(t).strftime("%Y/%m/%d %H:%M:%S")

    errors.write_text(
        f'{at(1000)} [error] 7#7: *1 recv() failed (104: Connection reset by peer) while reading response header '
        'from upstream, client: 127.0.0.1, request: "POST /wechat HTTP/1.1", upstream: "http://127.0.0.1:9001/wechat"\n'
        f'{at(1001)} [error] 7#7: *2 connect() failed (111: Connection refused) while connecting to upstream, '
        'client: 127.0.0.1, request: "POST /api/play/heartbeat HTTP/1.1", upstream: "http://127.0.0.1:9001/api/play/heartbeat"\n'
        f'{at(1002)} [error] 7#7: *3 connect() failed (111: Connection refused) while connecting to upstream, '
        'client: 127.0.0.1, request: "GET /h5/learn HTTP/1.1", upstream: "http://127.0.0.1:9002/h5/learn"\n'
        f'{at(2000)} [error] 7#7: *4 connect() failed (111: Connection refused) while connecting to upstream, '
        'client: 127.0.0.1, request: "GET /h5/learn HTTP/1.1", upstream: "http://127.0.0.1:9001/h5/learn"\n'
        f'{at(1001)} [warn] 7#7: *5 a client request body is buffered to a temporary file\n')
    assert nginx_at_kill(log, 1000.0, ":9001", errors) == {
        "retried_after_kill": 1, "in_flight_at_kill": 1, "refused_by_dead_host": 1,
        "proxy_errors_after_kill": 1, "answered_by_dead_host_after_kill": 1}


def test_cpu_by_role_counts_what_each_process_spent_during_the_run_only():
    from bench.rehearsal.stack import cpu_spent

    first = {10: ("postgres", 100.0), 11: ("web", 5.0), 12: ("other", 1.0)}
    last = {10: ("postgres", 130.0), 11: ("web", 45.0), 12: ("other", 1.0),
            20: ("web", 12.5),        # started after the first reading: counted from 0
            12345: ("locust", 7.0)}   # likewise
    assert cpu_spent(first, last) == {"web": 52.5, "postgres": 30.0, "locust": 7.0, "other": 0.0}
    # A pid reused by another kind of process is a new process, not a rewind.
    assert cpu_spent({30: ("web", 50.0)}, {30: ("nginx", 2.0)}) == {"nginx": 2.0}


def test_cpu_by_pid_finds_this_process_and_its_cpu():
    import os

    from bench.rehearsal.stack import cpu_by_pid

    sum(i * i for i in range(200_000))  # some CPU of our own
    readings = cpu_by_pid()
    role, seconds = readings[os.getpid()]
    assert role == "other" and seconds > 0
    # The machine's idle and stolen time since boot: neither more than all cores' time since boot.
    with open("/proc/uptime") as uptime:
        since_boot = float(uptime.read().split()[0])
    assert readings[-1][0] == "idle" and 0 < readings[-1][1] <= since_boot * (os.cpu_count() or 1) + 1
    assert readings[-2][0] == "stolen" and 0 <= readings[-2][1] <= since_boot * (os.cpu_count() or 1)


def test_proxy_latency_reads_nginx_request_time_per_route(tmp_path):
    from bench.term import proxy_latency

    log = tmp_path / "access.log"
    lines = [f'1796632076.{i:03d} "POST /api/play/heartbeat" 200 0.{i % 10:03d} "127.0.0.1:1" "200"' for i in range(100)]
    lines += ['1796632077.000 "POST /wechat" 200 0.250 "127.0.0.1:1" "200"',
              '1796632077.100 "POST /api/exams/12/attempts" 201 1.500 "127.0.0.1:1, 127.0.0.1:2" "502, 201"',
              '1796632077.200 "GET /h5/learn" 200 9.000 "127.0.0.1:1" "200"',
              'garbage']
    log.write_text("\n".join(lines))
    found = proxy_latency(log)
    assert found["heartbeat"] == {"p50": 5.0, "p99": 9.0, "count": 100}
    assert found["callback"]["p99"] == 250.0 and found["exam start"]["p99"] == 1500.0
    assert set(found) == {"heartbeat", "callback", "exam start"}  # other routes are not these
    assert proxy_latency(tmp_path / "none.log") == {}


def test_client_connections_count_the_requests_that_opened_a_connection(tmp_path):
    from bench.term import client_connections

    log = tmp_path / "access.log"
    log.write_text(
        '1000.5 "POST /api/play/heartbeat" 200 0.012 "127.0.0.1:9001" "200" 1\n'
        '1015.5 "POST /api/play/heartbeat" 200 0.012 "127.0.0.1:9001" "200" 2\n'
        '1030.5 "POST /api/play/heartbeat" 200 0.012 "127.0.0.1:9002" "200" 1\n'
        '1031.0 "GET /h5/learn" 200 0.020 "127.0.0.1:9001, 127.0.0.1:9002" "502, 200" 11\n'
        '1000.5 "POST /api/play/heartbeat" 200 0.012 "127.0.0.1:9001" "200"\n')  # an older format: not counted
    assert client_connections(log) == {"requests": 4, "opened": 2}
