"""Benchmark of the player heartbeat (issue: study and attendance).

Under gunicorn with production settings, heartbeats of many trainees (default 15,000, each with
its own session and player page, positions advancing with the wall clock, one beat in 40 a pause)
against a bare Flask app that parses the same JSON and answers a JSON of the same shape, under the
same gunicorn settings, in the same run. The trainees are mid-session: each one's playing time
left before the next attendance check is drawn at random, so checks come due during the run.

Both apps are served at once; after a warm-up of each, they run in turn, --rounds times: flat out,
--connections connections as fast as they can, which gives the most each can serve; then paced,
where PACED_CONNECTIONS connections (trainees' phones) each wait so that together they offer a
little over --rate heartbeats/s, which gives the latency at that load. Taking turns keeps the
comparison fair on a machine shared with other work; the figures are medians of the rounds.
Prints requests/s and p50/p90/p99 latency of each, the gunicorn workers' CPU time per request
(what other load on the machine changes least), the database write transactions per heartbeat
(PostgreSQL transaction ids assigned during the run: only writing transactions take one), and
the time to draw an attendance QR PNG and to serve it from the cache.
Targets: >= 1,000 heartbeats/s with p99 <= 50 ms, < 0.1 database writes per heartbeat, QR <= 10 ms.

    .venv/bin/python bench/heartbeat.py [--seconds 20] [--rate 1000] [--connections 16] [--trainees 15000]
                                        [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
import redis  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from bench.common import gunicorn, production_env, require_wrk, run_wrk, temporary_postgres  # noqa: E402

REDIS_URL = os.environ.get("WXAPP_BENCH_REDIS", "redis://127.0.0.1:6379/7")
LESSON_S = 2700
PACED_CONNECTIONS = 100


def seed(env: dict, trainees: int, path: Path) -> None:
    """Migrates, binds `trainees` trainees, opens a player page for each through the service, and
    writes one `cookie tab lesson trainee` line per trainee to `path`."""
    from flask_migrate import upgrade

    from models import Course, Enrollment, Lesson, Trainee, WechatUser, db
    from services.identity.pii import id_card_check_digit, mask_id_card
    from services.school.majors import ensure_majors
    from services.study import play_state
    from wxapp import create_app
    from wxapp.extensions import player

    app = create_app(env)
    with app.app_context():
        upgrade()
        majors = ensure_majors(db.session)
        course = Course(kind="public", name="公共课程", hours_required=16)
        course.lessons = [Lesson(title=f"第{i}讲", video_url=f"https://media.example.com/{i}.mp4", duration_s=LESSON_S,
                                 hours=2, position=i) for i in range(1, 9)]
        db.session.add(course)
        db.session.flush()
        lesson_ids = [lesson.id for lesson in course.lessons]
        cipher, now = app.extensions["pii"], datetime.now(UTC)
        rows = []
        for i in range(trainees):
            card = f"3205051980{i:07d}"
            card += id_card_check_digit(card)
            rows.append({"name": f"学员{i}", "phone": f"139{i:08d}", "company": "压测公司", "id_card_hash": cipher.lookup_hash(card),
                         "id_card_enc": cipher.encrypt(card), "id_card_mask": mask_id_card(card), "created_at": now,
                         "updated_at": now})
        ids = db.session.scalars(insert(Trainee).returning(Trainee.id), rows).all()
        db.session.execute(insert(Enrollment), [{"trainee_id": t, "major_id": majors["建筑工程"].id, "kind": "main",
                                                 "fee": 615, "created_at": now, "updated_at": now} for t in ids])
        db.session.execute(insert(WechatUser), [{"openid": f"oBench{t:022d}", "subscribed": True, "trainee_id": t,
                                                 "bound_at": now, "created_at": now} for t in ids])
        rng, r = random.Random(7), app.extensions["redis"]
        studying = {t: rng.choice(lesson_ids) for t in ids}
        db.session.commit()
        serializer = app.session_interface.get_signing_serializer(app)
        with path.open("w") as out:
            for t, lesson_id in sorted(studying.items()):
                openid = f"oBench{t:022d}"
                page = player().open_page(t, openid, lesson_id, time.time())
                # Mid-session: some of the playing time before the next check has passed already.
                state = play_state.read(r, t, [])
                state.gap = rng.uniform(0, app.extensions["settings"].attendance_interval_max_s)
                play_state.write(r, state)
                cookie = serializer.dumps({"openid": openid, "_permanent": True})
                out.write(f"{cookie} {page.tab} {lesson_id} {t}\n")
        db.engine.dispose()
    # Now, not in the middle of a run: autovacuum would analyze the freshly filled tables then.
    with psycopg.connect(env["DATABASE_URL"].replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def xid_now(database_url: str) -> int:
    """The next transaction id to be assigned: ids go only to transactions that write."""
    with psycopg.connect(database_url.replace("+psycopg", "")) as conn:
        return int(conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text").fetchone()[0])


def qr_figures(env: dict, port: int, path: Path, database_url: str) -> dict:
    """Draws QR PNGs of fresh checks in-process, and fetches pending checks' PNGs over HTTP."""
    from services import keys
    from services.study import attendance
    from wxapp.config import links

    r = redis.Redis.from_url(REDIS_URL)
    draws = []
    for _ in range(101):
        check = attendance.new_check(1, 1, time.time(), 180)
        r.hset(keys.attendance_check(check.id), mapping={"token": check.token, "exp": check.expires_at})
        r.expire(keys.attendance_check(check.id), 600)
        started = time.perf_counter()
        attendance.qr_png(r, check.id, links(env["PUBLIC_BASE_URL"]))
        draws.append((time.perf_counter() - started) * 1000)
    draws = draws[1:]  # the first draw of a process also loads the imaging code
    cookies = {int(t): c for c, _, _, t in (line.split() for line in path.read_text().splitlines())}
    with psycopg.connect(database_url.replace("+psycopg", "")) as conn:
        pending = conn.execute("SELECT public_id, trainee_id FROM attendance_checks WHERE status = 'pending' "
                               "LIMIT 50").fetchall()
    first, cached = [], []
    for check_id, trainee_id in pending:
        for bucket in (first, cached):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/attendance/{check_id}/qr.png",
                                         headers={"Cookie": f"wxapp_session={cookies[trainee_id]}"})
            started = time.perf_counter()
            with urllib.request.urlopen(req, timeout=5) as resp:
                assert resp.status == 200 and resp.read(8) == b"\x89PNG\r\n\x1a\n"
            bucket.append((time.perf_counter() - started) * 1000)
    return {"draw": draws, "http_first": first, "http_cached": cached}


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] if len(values) > 1 else (values or [0.0])[0]


def worker_cpu_s(port: int) -> float:
    """CPU seconds (user + system) used so far by the gunicorn workers listening on `port`."""
    import psutil  # installed with Locust (requirements-dev.txt)

    master = next(psutil.Process(c.pid) for c in psutil.net_connections("tcp")
                  if c.status == psutil.CONN_LISTEN and c.laddr.port == port and c.pid)
    while (parent := master.parent()) is not None and "gunicorn" in " ".join(parent.cmdline()):
        master = parent
    return sum(sum(child.cpu_times()[:2]) for child in master.children())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rate", type=int, default=1000, help="heartbeats/s offered in the paced run")
    parser.add_argument("--connections", type=int, default=16, help="connections of the flat-out run")
    parser.add_argument("--trainees", type=int, default=15000)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each app, taken in turn")
    args = parser.parse_args()
    require_wrk()
    trainees = args.trainees + args.trainees % 2  # each wrk thread beats for its own half
    script = Path(__file__).with_name("heartbeat.lua")
    redis.Redis.from_url(REDIS_URL).flushdb()
    with temporary_postgres() as database_url, tempfile.TemporaryDirectory() as tmp:
        env = production_env(database_url, REDIS_URL)
        pages = Path(tmp) / "trainees.txt"
        started = time.monotonic()
        seed(env, trainees, pages)
        print(f"seeded {trainees} trainees with open player pages in {time.monotonic() - started:.0f} s")
        # Each paced connection sends, waits for the answer, then waits this long: somewhat less
        # than connections / rate, since the answer itself takes a few milliseconds.
        pace_ms = max(1, int(PACED_CONNECTIONS * 1000 / args.rate * 0.9))
        runs = {"flat out": (args.connections, {}), "paced": (PACED_CONNECTIONS, {"WXB_DELAY_MS": str(pace_ms)})}
        apps = {"bare Flask JSON": "bench.bare_app:app", "wxapp heartbeat": "wsgi:app"}
        results: dict = {}
        with gunicorn(apps["bare Flask JSON"], env) as bare_port, gunicorn(apps["wxapp heartbeat"], env) as port:
            ports = {"bare Flask JSON": bare_port, "wxapp heartbeat": port}
            # A warm-up gives most trainees their first beat and every worker the rarer paths' first
            # runs (checks issued, their rows written). Then both apps run in turn, round after
            # round, both servers up: a machine shared with other work slows both alike.
            for label_port in ports.values():
                run_wrk(label_port, script, 10, args.connections, env={**os.environ, "WXB_TRAINEES": str(pages)})
            for _ in range(args.rounds):
                for run, (connections, extra) in runs.items():
                    for label, app_port in ports.items():
                        before, cpu_before = xid_now(database_url), worker_cpu_s(app_port)
                        result = run_wrk(app_port, script, args.seconds, connections,
                                         env={**os.environ, "WXB_TRAINEES": str(pages), **extra})
                        results.setdefault((label, run), []).append(
                            {**result, "writes": xid_now(database_url) - before,
                             "cpu_us": (worker_cpu_s(app_port) - cpu_before) / max(result["requests"], 1) * 1e6,
                             "load": os.getloadavg()[0]})
            qr = qr_figures(env, port, pages, database_url)
    redis.Redis.from_url(REDIS_URL).flushdb()
    report(args, trainees, results, qr)


def report(args, trainees: int, results: dict, qr: dict) -> None:
    """Medians over the rounds; the ratio to bare Flask is the median of each round's ratio."""
    med = statistics.median
    print(f"heartbeat benchmark: {trainees} trainees, {args.seconds} s per run, {args.rounds} rounds of each app in "
          f"turn, gunicorn.conf.py production settings, {os.cpu_count()} CPUs; paced: {PACED_CONNECTIONS} connections "
          f"offering ~{args.rate}/s; flat out: {args.connections} connections; load average during the runs "
          f"{min(r['load'] for rs in results.values() for r in rs):.1f}-{max(r['load'] for rs in results.values() for r in rs):.1f}")
    print(f"{'medians of the rounds':28} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'errors':>7} "
          f"{'db writes/req':>14} {'worker CPU us/req':>18}")
    for (label, run), rs in results.items():
        requests = sum(r["requests"] for r in rs)
        print(f"{label + ', ' + run:28} {med(r['rps'] for r in rs):8.0f} {med(r['p50_ms'] for r in rs):8.2f} "
              f"{med(r['p90_ms'] for r in rs):8.2f} {med(r['p99_ms'] for r in rs):8.2f} {sum(r['errors'] for r in rs):7d} "
              f"{sum(r['writes'] for r in rs) / max(requests, 1):14.4f} {med(r['cpu_us'] for r in rs):18.0f}")
    flat, bare = results["wxapp heartbeat", "flat out"], results["bare Flask JSON", "flat out"]
    paced = results["wxapp heartbeat", "paced"]
    ratios = [w["rps"] / b["rps"] for w, b in zip(flat, bare, strict=True)]
    print("flat out, wxapp / bare Flask by round: " + " ".join(f"{r:.2f}" for r in ratios))
    writes = sum(r["writes"] for (label, _), rs in results.items() if label == "wxapp heartbeat" for r in rs)
    beats = sum(r["requests"] for (label, _), rs in results.items() if label == "wxapp heartbeat" for r in rs)
    print(f"wxapp: {med(r['rps'] for r in paced):.0f} heartbeats/s paced with p99 {med(r['p99_ms'] for r in paced):.1f} "
          f"ms (target >= 1000/s, p99 <= 50 ms); at most {med(r['rps'] for r in flat):.0f}/s ({med(ratios):.2f} of "
          f"bare Flask, target >= 0.5; CPU per request {med(b['cpu_us'] for b in bare) / med(w['cpu_us'] for w in flat):.2f}"
          f" of bare Flask's); {writes / max(beats, 1):.4f} database writes per heartbeat (target < 0.1)")
    print(f"QR PNG drawn in-process: p50 {statistics.median(qr['draw']):.1f} ms, p99 {percentile(qr['draw'], 99):.1f} ms "
          f"(target <= 10 ms); over HTTP ({len(qr['http_first'])} pending checks): first fetch p50 "
          f"{statistics.median(qr['http_first'] or [0]):.1f} ms, cached p50 {statistics.median(qr['http_cached'] or [0]):.1f} ms")


if __name__ == "__main__":
    main()
