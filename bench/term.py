"""A term's busiest hour on two hosts: the load and soak rehearsal (issue 22). See README, "The rehearsal".

    .venv/bin/python bench/term.py            # scale 1: 20,000 trainees, 3,000 studying, 30-minute soak
    .venv/bin/python bench/term.py --quick    # ~3 minutes at small scale, for development

Starts everything it needs on loopback (bench/rehearsal/stack.py), seeds the school, runs Locust
headless (bench/rehearsal/locustfile.py), sends the class-open notice to every trainee through the
staff console 5 minutes in, kills the host whose scheduler leads in the middle of the push, samples
worker memory and database connections all along, reads both hosts' /metrics, then prints a PASS/FAIL
table, writes it as JSON (bench/out/term.json) beside Locust's HTML report (bench/out/term.html) and
exits 1 on any FAIL. Everything it started is stopped at the end, on failure and on Ctrl-C too.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for _proxy in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_proxy, None)

import requests  # noqa: E402
import urllib3  # noqa: E402

from bench.rehearsal import report, stack  # noqa: E402
from bench.rehearsal.seed import Cast  # noqa: E402

OUT = ROOT / "bench" / "out"
CSRF = re.compile(r'name="csrf[-_]token" (?:content|value)="([^"]+)"')


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0, help="multiplies trainees, studying and exam takers")
    p.add_argument("--quick", action="store_true", help="small scale, ~3 minutes: 500 trainees, 100 studying")
    p.add_argument("--soak-minutes", type=float, help="length of the whole run (default 30; 3 with --quick)")
    p.add_argument("--minutes", type=float, help="alias of --soak-minutes")
    p.add_argument("--notice-at", type=float, help="seconds into the run of the class-open notice (default 300)")
    p.add_argument("--workers", type=int, default=3, help="gunicorn workers per host")
    p.add_argument("--pool-size", type=int, default=20, help="PgBouncer's server connections (default_pool_size)")
    p.add_argument("--no-kill", action="store_true", help="don't kill a host during the push")
    p.add_argument("--ramp-s", type=float, help="seconds over which the trainees arrive (default 240; 30 with --quick)")
    p.add_argument("--photo-px", type=int, default=1280,
                   help="the exam photos' longer side: 1280 (default) is what the exam page sends, 4000 a phone "
                        "camera's photo as taken")
    p.add_argument("--outbox-lease-s", type=int, help="OUTBOX_LEASE_S of the hosts (default: the app's, 60)")
    p.add_argument("--face-match", choices=("on", "off"), default=face_match_default(),
                   help="face comparison of the exam photos (FACE_MATCH): on where requirements-face.txt is "
                        "installed, as in production (the upload's one-face check, the scheduler's analysis)")
    return p.parse_args(argv)


def face_match_default() -> str:
    from services.exam import faces

    return "on" if faces.installed() else "off"


def plan_of(args) -> dict:
    """How many of each and when (seconds from the start of the load)."""
    s = args.scale
    if args.quick:
        trainees, studying, exam, followers, staff, minutes, notice_at = 500, 100, 20, 5, 2, 3.0, 60.0
        tap_window, ramp_s, answer_s = 90.0, 30.0, (0.5, 2.0)
    else:
        trainees, studying, exam, followers, staff, minutes, notice_at = 20_000, 3_000, 200, 20, 3, 30.0, 300.0
        # 3,000 arrive over 4 minutes (12.5 a second), as an evening's study begins; each exam question
        # takes 5-15 s, a brisk pace (the paper's 55 questions in about 9 minutes; the time limit is 60).
        tap_window, ramp_s, answer_s = 600.0, 240.0, (5.0, 15.0)
    trainees, studying, exam = int(trainees * s), int(studying * s), int(exam * s)
    minutes = args.soak_minutes or args.minutes or minutes
    notice_at = args.notice_at if args.notice_at is not None else min(notice_at, minutes * 60 / 3)
    tap_window = min(tap_window, minutes * 60 - notice_at - 10)
    ramp_s = min(args.ramp_s or ramp_s, minutes * 60 / 2)
    taps = int(trainees * 0.3)
    return {"trainees": trainees, "studying": studying, "exam_takers": exam, "run_s": int(minutes * 60),
            "notice_at_s": notice_at, "exam_at_s": min(120.0, notice_at / 2), "exam_window_s": 60.0,
            "tap_window_s": max(30.0, tap_window), "taps": taps, "ramp_s": ramp_s, "answer_s": list(answer_s),
            "users": {"Follower": max(1, int(followers * s)), "Studier": studying, "ExamTaker": exam,
                      "Staff": staff, "Tapper": max(2, int(20 * s) if not args.quick else 5)},
            "warmup_s": min(240.0, notice_at * 0.8)}


class Sampler(threading.Thread):
    """Every 10 s: each live host's worker and scheduler RSS, PostgreSQL connections, PgBouncer pools."""

    def __init__(self, st: stack.Stack, started: float):
        super().__init__(daemon=True)
        self.st, self.started, self.samples, self.stop = st, started, [], threading.Event()
        self.metrics: list[dict] = []
        self.cpu_first = stack.cpu_by_pid()  # the load starts a few seconds later
        self.cpu_seen = dict(self.cpu_first)  # each process's latest reading, kept after it ends

    def run(self) -> None:
        rounds = 0
        while not self.stop.wait(10):
            self.sample()
            rounds += 1
            if rounds % 6 == 0:  # the hosts' own figures once a minute (a slow scrape delays nothing else)
                self.metrics.append({"t": round(time.time() - self.started, 1), **metrics(self.st)})

    def sample(self) -> None:
        t = time.time() - self.started
        rss = {}
        for host in self.st.hosts:
            if host.alive:
                for pid in host.worker_pids():
                    rss[f"{host.name}:worker:{pid}"] = stack.rss_mib(pid)
                if host.scheduler is not None:
                    rss[f"{host.name}:scheduler"] = stack.rss_mib(host.scheduler.pid)
        entry = {"t": round(t, 1), "rss": {k: v for k, v in rss.items() if v}}
        self.cpu_seen.update(stack.cpu_by_pid())
        entry["cpu"] = stack.cpu_spent(self.cpu_first, self.cpu_seen)
        # Each web process's own CPU since the start: how evenly a host's workers share its requests.
        entry["web_pids"] = {pid: round(stack.spent_since(self.cpu_first, pid, role, seconds), 1)
                             for pid, (role, seconds) in self.cpu_seen.items() if role == "web"}
        try:
            entry["pg"] = self.st.pg_connections()
            pools = self.st.pools()
            entry["sv_active"] = sum(int(p.get("sv_active") or 0) for p in pools)
            entry["sv_total"] = sum(int(p.get(k) or 0) for p in pools
                                    for k in ("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login"))
            entry["cl_waiting"] = sum(int(p.get("cl_waiting") or 0) for p in pools)
            entry["maxwait"] = max((int(p.get("maxwait") or 0) for p in pools), default=0)
        except Exception as exc:  # a sample missed is a sample missed: say so
            entry["error"] = type(exc).__name__
        self.samples.append(entry)


def metrics(st: stack.Stack) -> dict:
    """The figures operators watch, from each live host's /metrics (straight to the host, not via nginx)."""
    wanted = ("wxapp_outbox_rows", "wxapp_dispatch_last_run_timestamp_seconds", "wxapp_heartbeats_total",
              "wxapp_exam_starts_total", "wxapp_callback_duration_seconds_count")
    out = {}
    for host in st.hosts:
        if not host.alive:
            continue
        try:
            text = requests.get(f"http://127.0.0.1:{host.port}/metrics", timeout=10,
                                headers={"Authorization": f"Bearer {stack.METRICS_TOKEN}"}).text
        except requests.RequestException as exc:
            out[host.name] = {"error": type(exc).__name__}
            continue
        lines = [line for line in text.splitlines() if line.startswith(wanted)]
        out[host.name] = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in lines}
    return out


def staff_session(st: stack.Stack, cast: Cast) -> requests.Session:
    s = requests.Session()
    s.verify, s.trust_env = False, False  # trust_env: REQUESTS_CA_BUNDLE would override verify
    page = s.get(st.base_url + "/admin/login", timeout=30).text
    s.post(st.base_url + "/admin/login", timeout=30, headers={"Referer": st.base_url + "/admin/login"},
           data={"csrf_token": CSRF.search(page).group(1), "username": cast.staff_user, "password": cast.staff_password})
    return s


def send_notice(st: stack.Stack, cast: Cast, classes: list[str]) -> dict:
    """Staff send the class-open notice of every class from the console (as many staff at once)."""
    def one(code: str) -> int:
        s = staff_session(st, cast)
        page = s.get(f"{st.base_url}/admin/classes/{code}", timeout=30).text
        token = CSRF.search(page).group(1)
        r = s.post(f"{st.base_url}/admin/classes/{code}/notify", data={"csrf_token": token, "confirm": "1"},
                   headers={"Referer": f"{st.base_url}/admin/classes/{code}"}, timeout=120, allow_redirects=False)
        return r.status_code

    with concurrent.futures.ThreadPoolExecutor(len(classes)) as pool:
        return dict(zip(classes, pool.map(one, classes), strict=True))


def stand_in_stats(st: stack.Stack, brief: bool = True) -> dict:
    """The stand-in's counts; `brief`: without the per-delivery lists (20,000 entries at scale 1)."""
    return requests.get(f"http://127.0.0.1:{st.ports['wechat']}/_stats" + ("?brief=1" if brief else ""),
                        timeout=30).json()


def leader(st: stack.Stack, since: float = 0) -> stack.Host | None:
    """The host whose scheduler logged `scheduler_leading` last (after `since`: its log's size then)."""
    best = None
    for host in st.hosts:
        log = (st.work / f"scheduler-{host.name}.log").read_text(errors="replace")
        at = log.rfind("scheduler_leading")
        idle = log.rfind("scheduler_idle")
        if at > idle and at >= 0:
            best = host
    return best


def run(args) -> int:
    urllib3.disable_warnings()
    plan = plan_of(args)
    cast = Cast(plan["trainees"], plan["exam_takers"])
    OUT.mkdir(parents=True, exist_ok=True)
    stack.ensure_tools()
    print(f"term rehearsal: {plan['trainees']} trainees, {plan['studying']} studying (arriving over "
          f"{plan['ramp_s']:.0f} s), {plan['exam_takers']} exam starts in {plan['exam_window_s']:.0f} s at "
          f"{plan['exam_at_s']:.0f} s (photos {args.photo_px} px, face comparison {args.face_match}, a question each {plan['answer_s'][0]:g}-{plan['answer_s'][1]:g} s), notice at {plan['notice_at_s']:.0f} s, {plan['run_s'] / 60:.0f} min; "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)
    extra = {"FACE_MATCH": args.face_match}
    if args.quick:  # attendance checks come due within the short run (production: 600-1800 s of playing)
        extra.update(ATTENDANCE_INTERVAL_MIN_S="30", ATTENDANCE_INTERVAL_MAX_S="60")
    if args.outbox_lease_s:
        extra["OUTBOX_LEASE_S"] = str(args.outbox_lease_s)
    with stack.temporary_work() as work, stack.Stack(Path(work), workers=args.workers, pool_size=args.pool_size,
                                                      refused=cast.refused(), extra_env=extra) as st:
        t0 = time.time()
        out = subprocess.run([sys.executable, "-m", "bench.rehearsal.seed", str(cast.trainees), str(cast.exam_takers)],
                             cwd=ROOT, env=st.env(direct=True), capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError("seeding failed:\n" + out.stderr[-3000:])
        school = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("PLAN "))[5:])
        st.flask("staff", "create", cast.staff_user, "--password", cast.staff_password, "--role", "admin")
        print(f"seeded in {time.time() - t0:.0f} s", flush=True)
        photos = make_photos(Path(work), args.photo_px)
        st.start_hosts()
        print(f"two hosts up behind nginx at {st.base_url} (workers {args.workers} each, PgBouncer pool "
              f"{args.pool_size})", flush=True)
        return drive(args, plan, cast, st, school, photos, Path(work))


def make_photos(work: Path, px: int) -> dict:
    """The exam takers' photos, `px` on their longer side: the exam page sends at most 1280 (WeChat's
    compressed chooseImage, or its own shrink of a camera photo: wxapp/static/exam.js)."""
    from bench.exam import phone_photo

    paths = {}
    for which in ("before", "after"):
        paths[which] = str(work / f"{which}.jpg")
        Path(paths[which]).write_bytes(phone_photo(px))
    return paths


def drive(args, plan: dict, cast: Cast, st: stack.Stack, school: dict, photos: dict, work: Path) -> int:
    start = time.time() + 5
    locust_plan = {
        **school, "trainees": cast.trainees, "users": plan["users"], "redis_url": st.redis_url, "redis_prefix": "wxapp",
        "wechat_token": stack.WECHAT_TOKEN, "aes_key": stack.AES_KEY, "appid": stack.APPID,
        "first_number": {"Studier": cast.exam_takers + 1, "ExamTaker": 1, "Tapper": 1},
        "exam_at": start + plan["exam_at_s"], "exam_window_s": plan["exam_window_s"], "photos": photos,
        "staff_user": cast.staff_user, "staff_password": cast.staff_password, "taps": plan["taps"],
        "tap_window_s": plan["tap_window_s"], "notice_file": str(work / "notice-sent"), "kill_file": str(work / "killed"),
        "locust_out": str(work / "locust-out.json"), "heartbeat_s": 15, "answer_s": plan["answer_s"],
    }
    (work / "plan.json").write_text(json.dumps(locust_plan))
    users = sum(plan["users"].values())
    spawn_rate = max(1.0, users / plan["ramp_s"])
    locust = subprocess.Popen(
        [str(stack.VENV_BIN / "locust"), "-f", str(ROOT / "bench/rehearsal/locustfile.py"), "--headless",
         "-u", str(users), "-r", f"{spawn_rate:.1f}", "-t", f"{plan['run_s']}s", "--stop-timeout", "30",
         "--host", st.base_url, "--csv", str(OUT / "term"), "--html", str(OUT / "term.html"), "--only-summary",
         "--loglevel", "WARNING"],
        cwd=ROOT, env={**os.environ, "TERM_PLAN": str(work / "plan.json"), "PYTHONPATH": str(ROOT)},
        stdout=open(OUT / "term-locust.log", "w"), stderr=subprocess.STDOUT)
    sampler = Sampler(st, start)
    sampler.start()
    figures: dict = {"plan": plan, "kill": {}}
    try:
        wait_until(start + plan["notice_at_s"], locust)
        notice_t = time.time()
        (work / "notice-sent").write_text(str(notice_t))
        notice_thread = concurrent.futures.ThreadPoolExecutor(1).submit(send_notice, st, cast, school["classes"])
        print(f"[{notice_t - start:6.0f} s] class-open notice sent to {len(school['classes'])} classes", flush=True)
        expected = cast.trainees
        refused = len(cast.refused())
        if not args.no_kill:
            figures["kill"] = kill_mid_push(st, work, start, expected - refused, notice_thread)
        done_t = wait_for_delivery(st, expected - refused, refused, notice_t, deadline=notice_t + 420)
        figures["notice_posts"] = notice_thread.result(timeout=300)
        print(f"[{time.time() - start:6.0f} s] push over; soak goes on until {plan['run_s']} s", flush=True)
        locust.wait(plan["run_s"] + 300)
        figures["metrics_end"] = metrics(st)
        sampler.stop.set()
        sampler.sample()
        stats = stand_in_stats(st, brief=False)
        figures["notice"] = notice_figures(stats, expected, refused, notice_t, done_t)
        figures["standin"] = {k: v for k, v in stats.items() if k not in ("delivery_times", "delivered")}
    finally:
        sampler.stop.set()
        if locust.poll() is None:
            locust.send_signal(signal.SIGINT)
            try:
                locust.wait(60)
            except subprocess.TimeoutExpired:
                locust.kill()
    return finish(figures, sampler.samples, sampler.metrics, plan, st, work, start)


def wait_until(when: float, locust: subprocess.Popen) -> None:
    while time.time() < when:
        if locust.poll() is not None:
            raise RuntimeError(f"locust stopped early; see {OUT / 'term-locust.log'}")
        time.sleep(0.5)


def kill_mid_push(st: stack.Stack, work: Path, start: float, wechat_expected: int,
                  notice: concurrent.futures.Future) -> dict:
    """Waits until a third of the WeChat sends arrived, then kill -9 the host whose scheduler leads."""
    deadline = time.time() + 180
    while time.time() < deadline and stand_in_stats(st)["delivered_openids"] < wechat_expected / 3:
        if notice.done() and notice.exception() is not None:
            raise RuntimeError("the class-open notice could not be sent") from notice.exception()
        time.sleep(0.1)
    victim = leader(st) or st.hosts[0]
    survivor = next(h for h in st.hosts if h is not victim)
    survivor_log = st.work / f"scheduler-{survivor.name}.log"
    before = survivor_log.read_text(errors="replace").count("scheduler_leading")
    delivered = stand_in_stats(st)["delivered_openids"]
    victim.kill()
    killed = victim.killed_at
    (work / "killed").write_text(str(killed))
    print(f"[{killed - start:6.0f} s] kill -9 host {victim.name} (its scheduler led) with {delivered}/{wechat_expected}"
          f" WeChat notices delivered", flush=True)
    takeover = None
    while time.time() < killed + 120:
        if survivor_log.read_text(errors="replace").count("scheduler_leading") > before:
            takeover = time.time() - killed
            break
        time.sleep(0.25)
    print(f"[{time.time() - start:6.0f} s] host {survivor.name}'s scheduler leads "
          + (f"{takeover:.1f} s after the kill" if takeover is not None else "NOT within 120 s"), flush=True)
    return {"host": victim.name, "killed_at": killed, "takeover_s": takeover, "delivered_at_kill": delivered}


def wait_for_delivery(st: stack.Stack, wechat_expected: int, sms_expected: int, notice_t: float,
                      deadline: float) -> float | None:
    while time.time() < deadline:
        wechat, _, sms, _ = _class_open(stand_in_stats(st))
        if wechat >= wechat_expected and sms >= sms_expected:
            return time.time()
        time.sleep(1)
    return None


def _class_open(stats: dict) -> tuple[int, int, int, int]:
    """(WeChat reached, duplicates, texts reached, duplicates) of the class-open notice alone."""
    wechat = stats["templates"].get(stack.TEMPLATE_ID, {})
    sms = stats["text_templates"].get(stack.SMS_TEMPLATE, {})
    return wechat.get("reached", 0), wechat.get("duplicates", 0), sms.get("reached", 0), sms.get("duplicates", 0)


def notice_figures(stats: dict, expected: int, refused: int, notice_t: float, done_t: float | None) -> dict:
    wechat, wechat_dup, sms, sms_dup = _class_open(stats)
    within = sum(1 for t in stats["delivery_times"] if t - notice_t <= report.NOTICE_WINDOW_S)
    last = stats["last_delivery"]
    return {"expected": expected, "wechat": wechat, "sms": sms, "delivered_once": wechat + sms,
            "duplicates": wechat_dup + sms_dup, "missing": max(0, expected - wechat - sms),
            # texts are not timed by the stand-in: counted in the window when the push ended within it
            "within_window": within + (sms if done_t and done_t - notice_t <= report.NOTICE_WINDOW_S else 0),
            "all_in_s": (done_t - notice_t) if done_t else None,
            "last_wechat_delivery_s": (last - notice_t) if last else None,
            "resends_absorbed": stats["resends_absorbed"]}


def finish(figures: dict, samples: list, metrics_series: list, plan: dict, st: stack.Stack, work: Path,
           sampler_start: float) -> int:
    stats = report.locust_stats(OUT / "term_stats.csv") if (OUT / "term_stats.csv").exists() else {}
    figures["stats"] = stats
    figures["requests"] = stats.get("Aggregated", {}).get("count", 0)
    locust_out = json.loads((work / "locust-out.json").read_text()) if (work / "locust-out.json").exists() else {}
    outcomes = locust_out.get("outcomes", {})
    figures["outcomes"] = outcomes
    figures["unexpected_answers"] = locust_out.get("answers", {})
    figures["errors"] = {k: v for k, v in outcomes.items() if k.startswith(("http_", "timeout", "unexpected_"))}
    # The survivor of the kill carries both hosts' load from then on: its baseline comes after that.
    killed_t = figures["kill"]["killed_at"] - sampler_start if figures.get("kill") else 0
    # The soak's memory is judged once its load is steady: the push, the kill and the taps of the notice
    # are over (the survivor's workers, carrying both hosts' trainees and the taps, fill their caches and
    # arenas until then: in the full run of this change, +20 % in the 4 minutes after the kill, then
    # flat, 197 -> 198 MiB, for the last 18 minutes). A short run may end before: the next that fits.
    steady_t = plan["notice_at_s"] + plan["tap_window_s"] + 60
    for baseline in (steady_t, killed_t + 120, killed_t + 30, plan["warmup_s"]):
        figures["rss"] = rss_growth(samples, max(plan["warmup_s"], baseline))
        if figures["rss"]["max_growth"] is not None:
            break
    figures["rss_after_kill"] = rss_growth(samples, max(plan["warmup_s"], killed_t + 120))
    figures["rss_from_warmup"] = rss_growth(samples, plan["warmup_s"])
    figures["connections"] = {
        "max_pg": max((s["pg"] for s in samples if "pg" in s), default=None), "pool_sum": st.pool_size,
        "max_waiting": max((s.get("cl_waiting", 0) for s in samples), default=None),
        "max_wait_s": max((s.get("maxwait", 0) for s in samples), default=None)}
    if figures.get("kill"):
        k = figures["kill"]
        k["credit_lost"] = outcomes.get("credit_lost", 0)
        k["credit_kept"] = outcomes.get("credit_kept", 0)
        k["beats_after"] = locust_out.get("hosts_after_kill", {})
        dead_port = f":{next(h.port for h in st.hosts if h.name == k['host'])}"
        k["beats_on_dead_host"] = sum(v for addr, v in k["beats_after"].items() if addr.endswith(dead_port))
        k.update(nginx_at_kill(work / "access.log", k["killed_at"], dead_port, work / "nginx-error.log"))
    figures["proxy"] = proxy_latency(work / "access.log")
    figures["timeline"] = timeline(work / "access.log", sampler_start, samples)
    figures["client_connections"] = client_connections(work / "access.log")
    figures["cpu"] = cpu_shares(samples)
    figures["samples"] = samples
    figures["metrics_series"] = metrics_series
    figures["app_log"] = keep_logs(work)
    rows = report.judge(figures)
    print()
    print(report.table(rows))
    for host, m in (figures.get("metrics_end") or {}).items():
        outbox = {k.split("{", 1)[1].rstrip("}"): int(v) for k, v in m.items() if k.startswith("wxapp_outbox_rows")}
        last = m.get("wxapp_dispatch_last_run_timestamp_seconds")
        print(f"/metrics of host {host} at the end: heartbeats {m.get('wxapp_heartbeats_total', 0):.0f}, exam starts "
              f"{m.get('wxapp_exam_starts_total', 0):.0f}, callbacks {m.get('wxapp_callback_duration_seconds_count', 0):.0f}"
              f" (counted since the host started), outbox {outbox}, last dispatch "
              + (f"{time.time() - last:.0f} s ago" if last else "never"))
    print_machine(figures, samples)
    conns = figures["client_connections"]
    if conns.get("requests"):
        print(f"client connections: {conns['opened']} opened (TLS handshakes) for {conns['requests']} requests, "
              f"{conns['requests'] / max(1, conns['opened']):.1f} requests each")
    print(f"\nlocust HTML report: {OUT / 'term.html'}; figures: {OUT / 'term.json'}; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    report.write_json(OUT / "term.json", rows, figures)
    return 0 if all(r.passed for r in rows) else 1


def print_machine(figures: dict, samples: list) -> None:
    """What the machine did: CPU by role, idle and stolen; CPU a request; each web process's CPU; and
    the proxy's p99s with the busy cores minute by minute."""
    if figures["cpu"]:
        machine = {role: figures["cpu"][role] for role in ("idle", "stolen") if role in figures["cpu"]}
        print("CPU by role over the run, seconds (share of the machine): " + ", ".join(
            f"{role} {c['s']:.0f} ({c['share']:.0%})" for role, c in figures["cpu"].items() if role not in machine)
            + "".join(f"; {role} {c['s']:.0f} ({c['share']:.0%})" for role, c in machine.items())
            + (" (stolen: the virtual CPUs waited for another tenant)" if "stolen" in machine else ""))
        served = figures["client_connections"].get("requests") or figures["requests"]
        if served and "web" in figures["cpu"] and "locust" in figures["cpu"]:
            web_ms, locust_ms = (figures["cpu"][r]["s"] * 1000 / served for r in ("web", "locust"))
            print(f"CPU a request: web {web_ms:.2f} ms, Locust {locust_ms:.2f} ms, ratio {web_ms / locust_ms:.2f} (Locust "
                  "does the same work a request in every run: the ratio compares runs on a machine whose speed varies)")
    web_pids = next((s["web_pids"] for s in reversed(samples) if s.get("web_pids")), {})
    if web_pids:
        print("web processes' CPU over the run, s (masters, workers; a worker far above the others carries "
              "more of the host's connections): " + ", ".join(f"{v:.0f}" for v in sorted(web_pids.values(), reverse=True)))
    if figures["timeline"]:
        print("\nminute by minute (at the proxy, p99 ms; the machine's busy and stolen cores):")
        for w in figures["timeline"]:
            print(f"  {w['from_s']:>4.0f}-{w['to_s']:<4.0f}s beat {w['heartbeat_p99']:>5.0f} "
                  f"callback {w['callback_p99']:>5.0f} busy {w['busy']:.2f} stolen {w['stolen']:.2f}")


def cpu_shares(samples: list) -> dict:
    """Each role's CPU seconds over the run (the last sample's) and its share of all the cores' time."""
    last = next((s for s in reversed(samples) if s.get("cpu")), None)
    if last is None or not last["t"]:
        return {}
    capacity = last["t"] * (os.cpu_count() or 1)
    return {role: {"s": seconds, "share": round(seconds / capacity, 3)} for role, seconds in last["cpu"].items()}


def keep_logs(work: Path) -> dict:
    """Copies the hosts', schedulers' and nginx's logs to bench/out/term-logs/ (the access log gzipped);
    answers the app's warnings and errors by kind and path, as counted in its logs."""
    import gzip
    import shutil

    logs = OUT / "term-logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    counts: dict[str, int] = {}
    for path in sorted(work.glob("*.log")):
        if path.name == "access.log":
            with open(path, "rb") as src, gzip.open(logs / "access.log.gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
            continue
        shutil.copy(path, logs / path.name)
        for line in path.read_text(errors="replace").splitlines():
            found = re.search(r" (WARNING|ERROR|CRITICAL) (\S+) (\w+)(.*)", line)
            if found and not found.group(2).startswith("apscheduler"):
                where = re.search(r"path=(\S+)", found.group(4))
                error = re.search(r"error=(\S+)", found.group(4))
                key = " ".join(x for x in (path.stem.split("-")[0], found.group(3), error and error.group(1),
                                           where and re.sub(r"/\d+", "/N", where.group(1))) if x)
                counts[key] = counts.get(key, 0) + 1
    return counts


def rss_growth(samples: list, warmup_s: float) -> dict:
    """Each worker's RSS at the end against its first sample after the warm-up (workers seen both
    times). Schedulers are shown apart, not judged: the one that takes over starts its jobs then."""
    after = [s for s in samples if s["t"] >= warmup_s and s.get("rss")]
    if len(after) < 2:
        return {"max_growth": None}
    first, last = after[0]["rss"], after[-1]["rss"]
    growth = {k: last[k] / first[k] - 1 for k in first if k in last and ":worker:" in k}
    schedulers = {k: f"{first[k]:.0f} -> {last[k]:.0f} MiB" for k in first if k in last and k.endswith(":scheduler")}
    if not growth:
        return {"max_growth": None, "schedulers": schedulers}
    worst = max(growth, key=lambda k: growth[k])
    return {"max_growth": growth[worst], "worst": f"{worst}: {first[worst]:.0f} -> {last[worst]:.0f} MiB",
            "median_growth": statistics.median(growth.values()), "workers": len(growth), "schedulers": schedulers,
            "baseline_t": after[0]["t"], "end_t": after[-1]["t"]}


# nginx's error log names why a try on an upstream failed: a refused connect (the host is gone, the request
# never reached it) or a connection that broke under a request the host had (in flight as it died).
_REFUSED = "Connection refused) while connecting to upstream"
_ERROR_AT = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[error\]")


def nginx_at_kill(log_path: Path, killed_at: float, dead_port: str, error_log: Path | None = None) -> dict:
    """From nginx's logs, the 30 s after the kill: requests that first went to the dead host and were
    retried on the other (two upstream addresses); of the dead host's failed tries (error log), those
    in flight as it died (the connection broke under the request) and those sent to it after (refused at
    connect: no host is marked down, so the round robin keeps trying it first, and nginx passes the
    request on at once). Also the proxy errors (502/504), and answers from the dead host after the kill."""
    retried, proxy_errors, to_dead_after = 0, 0, 0
    if not log_path.exists():
        return {}
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            msec, rest = line.split(" ", 1)
            at = float(msec)
        except ValueError:
            continue
        if not killed_at - 1 <= at <= killed_at + 30:
            continue
        upstream = rest.split('"')[3] if rest.count('"') >= 4 else ""
        status = rest.split('"')[2].split()[0] if rest.count('"') >= 2 else ""
        if "," in upstream:
            retried += 1
        elif upstream.endswith(dead_port) and at > killed_at + 1:
            to_dead_after += 1
        if status in ("502", "504"):
            proxy_errors += 1
    in_flight, refused = _dead_host_tries(error_log, killed_at, dead_port)
    return {"retried_after_kill": retried, "in_flight_at_kill": in_flight, "refused_by_dead_host": refused,
            "proxy_errors_after_kill": proxy_errors, "answered_by_dead_host_after_kill": to_dead_after}


def _dead_host_tries(error_log: Path | None, killed_at: float, dead_port: str) -> tuple[int, int]:
    """(broken under a request, refused at connect): the dead host's failed tries in nginx's error log,
    from the kill's second to 30 s after (the log's times are whole seconds)."""
    in_flight, refused = 0, 0
    if error_log is None or not error_log.exists():
        return in_flight, refused
    first, last = datetime.fromtimestamp(int(killed_at) - 1), datetime.fromtimestamp(int(killed_at) + 31)
    for line in error_log.read_text(errors="replace").splitlines():
        found = _ERROR_AT.match(line)
        if not found or f'upstream: "http://127.0.0.1{dead_port}' not in line:
            continue
        if first <= datetime.strptime(found.group(1), "%Y/%m/%d %H:%M:%S") <= last:
            if _REFUSED in line:
                refused += 1
            else:
                in_flight += 1
    return in_flight, refused


PROXY_ROUTES = {"heartbeat": re.compile(r"^POST /api/play/heartbeat$"), "callback": re.compile(r"^POST /wechat$"),
                "exam start": re.compile(r"^POST /api/exams/\d+/attempts$")}


def client_connections(log_path: Path) -> dict:
    """How many client connections nginx saw opened (a request that was the first on its connection,
    `$connection_requests` 1, each after a TLS handshake) for how many requests: simulated phones that
    keep their connection open between beats open few."""
    requests, opened = 0, 0
    if not log_path.exists():
        return {}
    for line in log_path.read_text(errors="replace").splitlines():
        last = line.rsplit(" ", 1)[-1]
        if last.isdigit() and line.count('"') >= 6:
            requests += 1
            opened += last == "1"
    return {"requests": requests, "opened": opened}


def proxy_latency(log_path: Path) -> dict:
    """Per route of PROXY_ROUTES, p50/p99/n of nginx's $request_time (ms): from the request's first byte at
    the proxy to its answer's last, the hosts' queues included but not the load generator's own delays
    (Locust shares the 2 cores: a starved client adds its wait to what it measures)."""
    times: dict[str, list[float]] = {name: [] for name in PROXY_ROUTES}
    for _, request, ms in _proxy_lines(log_path):
        for name, pattern in PROXY_ROUTES.items():
            if pattern.match(request):
                times[name].append(ms)
    out = {}
    for name, values in times.items():
        if values:
            values.sort()
            out[name] = {"p50": values[len(values) // 2], "p99": _p99(values), "count": len(values)}
    return out


def timeline(log_path: Path, started: float, samples: list, window_s: float = 60) -> list[dict]:
    """Per window of the run: the heartbeat's and the callback's p99 at the proxy (ms), and the
    machine's busy and stolen cores from the sampler's readings (which hold cumulative CPU seconds)."""
    times: dict[int, dict[str, list[float]]] = {}
    for at, request, ms in _proxy_lines(log_path):
        for name in ("heartbeat", "callback"):
            if PROXY_ROUTES[name].match(request):
                window = times.setdefault(int((at - started) // window_s), {"heartbeat": [], "callback": []})
                window[name].append(ms)
    readings = [(s["t"], s["cpu"]) for s in samples if s.get("cpu")]
    out = []
    for index in sorted(k for k in times if k >= 0):
        lo, hi = index * window_s, (index + 1) * window_s
        inside = [r for r in readings if lo <= r[0] <= hi + 5]
        busy = stolen = 0.0
        if len(inside) >= 2:
            (t0, first), (t1, last) = inside[0], inside[-1]
            spent = {role: last.get(role, 0.0) - first.get(role, 0.0) for role in last}
            busy = sum(v for role, v in spent.items() if role not in ("idle", "stolen")) / max(t1 - t0, 1e-9)
            stolen = spent.get("stolen", 0.0) / max(t1 - t0, 1e-9)
        out.append({"from_s": lo, "to_s": hi, "busy": round(busy, 2), "stolen": round(stolen, 2),
                    **{f"{name}_p99": _p99(values) for name, values in times[index].items()},
                    **{f"{name}_n": len(values) for name, values in times[index].items()}})
    return out


def _proxy_lines(log_path: Path) -> Iterator[tuple[float, str, float]]:
    """(when, "METHOD path" without the query, $request_time in ms) of each line of nginx's access log."""
    if not log_path.exists():
        return
    for line in log_path.read_text(errors="replace").splitlines():
        parts = line.split('"')
        if len(parts) < 3:
            continue
        try:
            at, seconds = float(parts[0].split()[0]), float(parts[2].split()[1])
        except (IndexError, ValueError):
            continue
        yield at, parts[1].split("?", 1)[0], seconds * 1000


def _p99(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.99))] if values else 0.0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("term: interrupted; everything it started is stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
