"""Benchmark of the WeChat callback (issue: foundation).

Under gunicorn with production settings, a bound trainee's MY_COURSES click (PostgreSQL and
Redis on the path) against a bare Flask app answering `success` under the same gunicorn
settings, in the same run. Prints requests/s of both, their ratio, and p50/p90/p99 latency.
Target: ratio >= 0.5 and p99 <= 50 ms at 16 concurrent connections.

Both servers run at once and are loaded in turn, `--rounds` times, once every worker is ready;
the medians are reported with each round's ratio, so a shared machine's drift shows instead
of deciding the result.

    .venv/bin/python bench/callback.py [--seconds 10] [--rounds 3] [--connections 16] [--key HELP]
    .venv/bin/python bench/callback.py --key TEMPLATESENDJOBFINISH   # WeChat's report on a sent template

WXAPP_BENCH_REDIS names the Redis (default redis://127.0.0.1:6379/7; a unix:///…?db=N socket too).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, VENV_BIN, gunicorn, production_env, require_wrk, run_wrk, temporary_postgres  # noqa: E402

REDIS_URL = os.environ.get("WXAPP_BENCH_REDIS", "redis://127.0.0.1:6379/7")
TOKEN = "bench-token"
QUERIES = 60_000  # signed queries a run cycles through (more than a round's requests)


def seed(env: dict, trainees: int) -> list[str]:
    """Migrates the database and binds `trainees` roster trainees; returns their OpenIDs."""
    subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    script = f"""
import sys
from datetime import datetime, timezone
from models import ClassMember, Enrollment, Trainee, TrainingClass, WechatUser, db
from services.school.majors import ensure_majors
from services.identity.pii import id_card_check_digit, mask_id_card
from wxapp import create_app
app = create_app()
with app.app_context():
    majors = ensure_majors(db.session)
    training_class = TrainingClass(code="BENCH-1", major=majors["建筑工程"], name="压测班", place="苏州",
                          starts_at=datetime(2027, 3, 1, 1, tzinfo=timezone.utc))
    db.session.add(training_class)
    cipher = app.extensions["pii"]
    for i in range({trainees}):
        first17 = "32050519800101" + f"{{i:03d}}"
        id_card = first17 + id_card_check_digit(first17)
        t = Trainee(name=f"学员{{i}}", phone=f"139{{i:08d}}", company="压测公司", id_card_hash=cipher.lookup_hash(id_card),
                    id_card_enc=cipher.encrypt(id_card), id_card_mask=mask_id_card(id_card))
        t.enrollments.append(Enrollment(major=majors["建筑工程"], kind="main", fee=615))
        if i % 3 == 0:
            t.enrollments.append(Enrollment(major=majors["市政公用工程"], kind="added", fee=293))
        db.session.add(t)
        db.session.flush()
        db.session.add(ClassMember(class_id=training_class.id, trainee_id=t.id))
        db.session.add(WechatUser(openid=f"oBench{{i:022d}}", subscribed=True, trainee_id=t.id,
                                  bound_at=datetime.now(timezone.utc)))
    db.session.commit()
"""
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True)
    return [f"oBench{i:022d}" for i in range(trainees)]


def signed_query() -> str:
    """`signature&timestamp&nonce` as WeChat signs a callback now, with a nonce of its own."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    signature = hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce])).encode()).hexdigest()
    return f"signature={signature}&timestamp={timestamp}&nonce={nonce}"


def signed_path() -> str:
    return f"/wechat?{signed_query()}&openid=x"


def write_queries(path: str) -> None:
    """Fresh signed queries for the next wrk run (the callback accepts 300 s of clock skew)."""
    with open(path, "w") as out:
        out.writelines(signed_query() + "\n" for _ in range(QUERIES))


# What each key's answer must contain, checked once before the load.
JOB_REPORT = "TEMPLATESENDJOBFINISH"  # not a key: WeChat's report on a delivered template message
EXPECTED = {"MY_COURSES": "专业课·建筑工程", "HELP": "使用帮助", JOB_REPORT: "success"}


def check_answer(port: int, openid: str, key: str) -> str:
    event = (f"<Event>CLICK</Event><EventKey>{key}</EventKey>" if key != JOB_REPORT else
             "<Event>TEMPLATESENDJOBFINISH</Event><MsgID>1</MsgID><Status>success</Status>")
    body = (f"<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName><CreateTime>1</CreateTime>"
            f"<MsgType>event</MsgType>{event}</xml>").encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{signed_path()}", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        return resp.read().decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3,
                        help="bare and wxapp runs alternate this many times; medians are reported")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--trainees", type=int, default=200)
    parser.add_argument("--key", default="MY_COURSES", help="the menu key clicked (HELP touches no data); "
                        "TEMPLATESENDJOBFINISH posts WeChat's report on a delivered template message instead")
    args = parser.parse_args()
    require_wrk()
    script = Path(__file__).with_name("callback.lua")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    bare_label, real_label = "bare Flask 'success'", f"wxapp {args.key}"
    runs: dict[str, list[dict]] = {bare_label: [], real_label: []}
    with temporary_postgres() as database_url:
        env = production_env(database_url, REDIS_URL)
        openids = seed(env, args.trainees)
        queries = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False).name
        wrk_env = {**os.environ, "WXB_QUERIES": queries, "WXB_OPENIDS": ",".join(openids), "WXB_KEY": args.key}
        # Both servers up at once, measured in turn: a shared machine's drift hits both alike.
        with gunicorn("bench.bare_app:app", env) as bare_port, gunicorn("wsgi:app", env) as real_port:
            answer = check_answer(real_port, openids[0], args.key)
            assert EXPECTED.get(args.key, "<xml>") in answer, answer
            ports = {bare_label: bare_port, real_label: real_port}
            for port in ports.values():
                write_queries(queries)
                run_wrk(port, script, 2, args.connections, env=wrk_env)  # warm-up
            for _ in range(args.rounds):
                for label, port in ports.items():
                    write_queries(queries)
                    runs[label].append(run_wrk(port, script, args.seconds, args.connections, env=wrk_env))
        os.unlink(queries)
    redis.Redis.from_url(REDIS_URL).flushdb()

    print(f"callback benchmark: {args.connections} connections, {args.rounds} rounds of {args.seconds} s each, "
          f"gunicorn.conf.py production settings, {os.cpu_count()} CPUs")
    print(f"{'median of rounds':24} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'errors':>7}")
    results = {label: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for label, rs in runs.items()}
    for label, r in results.items():
        print(f"{label:24} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p90_ms']:8.2f} {r['p99_ms']:8.2f} {r['errors']:7.0f}")
    per_round = [real["rps"] / bare["rps"] for bare, real in zip(runs[bare_label], runs[real_label], strict=False)]
    bare, real = results[bare_label], results[real_label]
    print("ratio per round: " + ", ".join(f"{x:.2f}" for x in per_round)
          + "; p99 per round: " + ", ".join(f"{r['p99_ms']:.1f}" for r in runs[real_label]) + " ms")
    print(f"ratio wxapp/bare: {real['rps'] / bare['rps']:.2f} (target >= 0.5); "
          f"wxapp p99 {real['p99_ms']:.1f} ms (target <= 50 ms)")


if __name__ == "__main__":
    main()
