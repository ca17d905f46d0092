"""Benchmark: the exam. Prints its figures; asserts nothing (the machine may be shared: say so).

1. In-process, PostgreSQL, a bank of 5,000 questions (公共 and the six majors): drawing a paper
   (stratified random per `exam_rules.json`, options shuffled) and grading a submission (loading
   the paper's questions and scoring it), p50 / p99 of each and of both together. Target: p99 ≤ 50 ms.
2. Over HTTP under gunicorn (production settings): N trainees (default 200) with full hours start
   their exam at the same moment, each uploading a phone photo (re-encoded by Pillow, kept in a
   local photo directory); p50 / p90 / p99 / max of the start request. The clients run on the same
   machine as the server.

   With face comparison on (the default where requirements-face.txt is installed, as in production;
   `--face-off` sets FACE_MATCH=off), each trainee has consented and the photo shows a face (Grace
   Hopper's portrait from matplotlib's sample data, a dev requirement, blown up to the phone's size
   under noise), so the upload's one-face check runs once as for a real photo: a photo without a face
   would be refused (400) after a second, upsampled detection pass.

Run: `.venv/bin/python bench/exam.py [TRAINEES] [--in-process] [--face-off]`; WXAPP_BENCH_REDIS picks the Redis
database (default redis://127.0.0.1:6379/6), WXAPP_BENCH_PHOTO_PX the photo's longer side: 4000 by default, a
phone camera's as taken (what the server must still take from any client); 1280 is what the exam page sends
(WeChat's compressed chooseImage, or the page's own shrink of the file input's photo in wxapp/static/exam.js).
"""
from __future__ import annotations

import io
import os
import random
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import gunicorn, production_env, temporary_postgres  # noqa: E402

REDIS_URL = os.environ.get("WXAPP_BENCH_REDIS", "redis://127.0.0.1:6379/6")
BANK_SIZE = 5000
ROUNDS = 500
PHOTO_PX = int(os.environ.get("WXAPP_BENCH_PHOTO_PX", "4000"))
for _proxy in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_proxy, None)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def line(name: str, values_s: list[float]) -> str:
    ms = [v * 1000 for v in values_s]
    return (f"{name:<24} p50 {pct(ms, 50):7.1f} ms   p90 {pct(ms, 90):7.1f} ms   p99 {pct(ms, 99):7.1f} ms"
            f"   max {max(ms):7.1f} ms   (n={len(ms)})")


def face_match() -> str:
    """FACE_MATCH of the run: off with --face-off or without dlib, else on (production's default)."""
    import importlib.util

    return "off" if "--face-off" in sys.argv or importlib.util.find_spec("dlib") is None else "on"


def make_app(database_url: str, storage: str):
    from wxapp import create_app

    return create_app(production_env(database_url, REDIS_URL, STORAGE_URL=storage, FACE_MATCH=face_match()))


def fill_bank(app) -> None:
    from models import db
    from models.exam import PUBLIC_POOL, ExamQuestion
    from services.exam.bank import stem_hash
    from services.school.majors import MAJORS

    pools = [PUBLIC_POOL] + [spec.code for spec in MAJORS]
    rows = []
    for n in range(BANK_SIZE):
        pool, kind = pools[n % len(pools)], ("single", "single", "multi", "judge")[n % 4]
        stem = f"{pool} 第{n}题 关于施工安全与质量管理的说法"
        options = [] if kind == "judge" else ["选项甲", "选项乙", "选项丙", "选项丁", "选项戊"][: 5 if kind == "multi" else 4]
        answer = {"single": "B", "multi": "ACD", "judge": "T"}[kind]
        rows.append(dict(pool=pool, kind=kind, stem=stem, stem_hash=stem_hash(stem), options=options, answer=answer,
                         created_at=datetime.now(UTC), updated_at=datetime.now(UTC)))
    with app.app_context():
        db.session.execute(ExamQuestion.__table__.insert(), rows)
        db.session.commit()


def bench_in_process(app) -> None:
    from models import db
    from services.exam import paper as papers
    from services.exam.grading import score
    from services.school.majors import MAJORS

    rules = app.extensions["settings"].exam_rules
    rng = random.Random(1)
    draws, grades, both, cpu = [], [], [], []
    with app.app_context():
        for n in range(ROUNDS):
            c0 = time.process_time()
            code = MAJORS[n % len(MAJORS)].code
            t0 = time.perf_counter()
            paper = papers.draw(db.session, code, rules, rng)
            t1 = time.perf_counter()
            questions = papers.questions_of(db.session, paper)
            answers = {item["q"]: rng.choice("AB") for item in paper}
            score(rules, paper, questions, answers)
            t2 = time.perf_counter()
            db.session.rollback()  # a fresh transaction each round, as in a request
            cpu.append(time.process_time() - c0)
            draws.append(t1 - t0)
            grades.append(t2 - t1)
            both.append(t2 - t0)
    print(f"in-process, PostgreSQL, bank of {BANK_SIZE} questions, papers of {rules.question_count}:")
    print("  " + line("draw", draws))
    print("  " + line("grade", grades))
    print("  " + line("CPU of this process", cpu) + "   (draw + grade, without the waits for a core)")
    print(f"  (load average {os.getloadavg()[0]:.1f} at the end)")
    print("  " + line("draw + grade", both) + ("   target p99 <= 50 ms: " + ("met" if pct(both, 99) <= 0.05 else "NOT met")))


def trainees(app, count: int) -> list[str]:
    """`count` bound trainees with full hours in 建筑工程; returns their OpenIDs."""
    from models import Course, Enrollment, Lesson, LessonProgress, Trainee, WechatUser, db
    from models.faces import FaceConsent
    from services.exam.faces.gate import CONSENT_VERSION
    from services.identity.pii import mask_id_card
    from services.school.majors import ensure_majors

    now = datetime.now(UTC)
    openids = []
    with app.app_context():
        majors = ensure_majors(db.session)
        public = Course(kind="public", name="公共课程", hours_required=16,
                        lessons=[Lesson(title="公共", video_url="https://v.example/p.mp4", duration_s=60, hours=16)])
        building = Course(kind="professional", major=majors["建筑工程"], name="建筑工程专业课", hours_required=40,
                          lessons=[Lesson(title="建筑", video_url="https://v.example/b.mp4", duration_s=60, hours=40)])
        db.session.add_all([public, building])
        db.session.flush()
        cipher = app.extensions["pii"]
        for n in range(count):
            card = f"3205051980{n:06d}X"[:18]
            person = Trainee(name=f"学员{n}", phone=f"139{n:08d}", company="苏州示例建设有限公司",
                             id_card_hash=cipher.lookup_hash(card), id_card_enc=cipher.encrypt(card),
                             id_card_mask=mask_id_card(card))
            person.enrollments.append(Enrollment(major=majors["建筑工程"], kind="main", fee=615))
            db.session.add(person)
            db.session.flush()
            openid = f"oBenchExam{n:018d}"
            db.session.add(FaceConsent(trainee_id=person.id, given_at=now, version=CONSENT_VERSION))
            db.session.add(WechatUser(openid=openid, subscribed=True, trainee_id=person.id, bound_at=now))
            for lesson in (public.lessons[0], building.lessons[0]):
                db.session.add(LessonProgress(trainee_id=person.id, lesson_id=lesson.id, watched="[]",
                                              credited_seconds=0, max_position=0, position=0, completed_at=now))
            openids.append(openid)
        db.session.commit()
    return openids


def phone_photo(px: int = PHOTO_PX) -> bytes:
    """A phone-camera-like JPEG of a face: a portrait blown up under blurred noise compresses about
    as a photo does (without matplotlib's sample portrait: noise over a gradient, no face)."""
    from PIL import Image, ImageFilter

    size = (px * 3 // 4, px)
    noise = Image.effect_noise(size, 40).filter(ImageFilter.GaussianBlur(1.5))
    try:
        from tests.faces_util import grace_hopper

        image = Image.blend(grace_hopper().resize(size), Image.merge("RGB", (noise, noise, noise)), 0.2)
    except (ImportError, AssertionError):
        image = Image.merge("RGB", (noise, Image.linear_gradient("L").resize(size), noise))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def session_cookie(app, openid: str) -> str:
    """The signed session a WeChat OAuth login would have left (the bench skips WeChat)."""
    return app.session_interface.get_signing_serializer(app).dumps({"openid": openid, "_permanent": True})


def server_cpu_s(port: int) -> dict[int, float]:
    """CPU seconds (user + system) spent so far by each gunicorn process bound to `port`, by pid: summed
    and divided by the cores, what the storm needs of a machine of its own, whatever else shares this one;
    one by one, how evenly the workers shared it (a worker is one process, one core at most)."""
    spent: dict[int, float] = {}
    for proc in Path("/proc").iterdir():
        try:
            if b"gunicorn" not in (proc / "cmdline").read_bytes() or \
                    f"GUNICORN_BIND=127.0.0.1:{port}".encode() not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            spent[int(proc.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return spent


def bench_http(app, database_url: str, storage: str, openids: list[str]) -> None:
    import re

    import requests

    # A generous worker timeout: on a starved machine gunicorn would kill a busy worker mid-request.
    env = production_env(database_url, REDIS_URL, STORAGE_URL=storage, GUNICORN_WORKERS="4", GUNICORN_THREADS="8",
                         GUNICORN_TIMEOUT="300", FACE_MATCH=face_match())
    photo = phone_photo()
    with gunicorn("wsgi:app", env) as port:
        base = f"http://127.0.0.1:{port}"
        clients = []
        for openid in openids:  # each opens the exam page first (not timed): cookie and CSRF token
            s = requests.Session()
            # Connection: close, so that the timed start opens its own connection instead of reusing
            # one the server may close as idle (keepalive 5 s) just as the start is sent.
            res = s.get(base + "/h5/exam", headers={"Cookie": f"wxapp_session={session_cookie(app, openid)}",
                                                    "Connection": "close"})
            cookie = res.cookies.get("wxapp_session") or session_cookie(app, openid)
            token = re.search(r'name="csrf-token" content="([^"]+)"', res.text).group(1)
            exam_id = s.get(base + "/api/exams", headers={"Cookie": f"wxapp_session={cookie}",
                                                          "Connection": "close"}).json()[0]["id"]
            clients.append((s, cookie, token, exam_id))
        barrier = threading.Barrier(len(clients))
        timings: list[float] = []
        statuses: list[int] = []
        lock = threading.Lock()

        def start(s, cookie, token, exam_id):
            barrier.wait()
            t0 = time.perf_counter()
            try:
                res = s.post(f"{base}/api/exams/{exam_id}/attempts", files={"photo": ("me.jpg", photo, "image/jpeg")},
                             headers={"Cookie": f"wxapp_session={cookie}", "X-CSRFToken": token}, timeout=300)
                status = res.status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            with lock:
                timings.append(time.perf_counter() - t0)
                statuses.append(status)

        threads = [threading.Thread(target=start, args=c) for c in clients]
        cpu_before = server_cpu_s(port)
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        cpu_after = server_cpu_s(port)
        by_process = sorted((cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after), reverse=True)
        cpu = sum(by_process)
    codes = {code: statuses.count(code) for code in sorted(set(statuses), key=str)}
    print(f"over HTTP, gunicorn 4 workers x 8 threads, {len(openids)} trainees starting at once, "
          f"photo {PHOTO_PX // 4 * 3}x{PHOTO_PX} JPEG {len(photo) // 1024} KB, FACE_MATCH={face_match()}:")
    print("  " + line("POST …/attempts", timings) + f"   statuses {codes}   all done in {wall:.1f} s"
          f"   (load average {os.getloadavg()[0]:.1f} at the end)")
    print(f"  server CPU for the {len(openids)} starts: {cpu:.1f} s, {cpu / len(openids) * 1000:.0f} ms a start; "
          f"on {os.cpu_count()} cores of its own at least {cpu / (os.cpu_count() or 1):.1f} s for all")
    print("  by process (master and workers), s: " + ", ".join(f"{s:.1f}" for s in by_process))


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    count = int(args[0]) if args else 200
    print(f"machine: {os.cpu_count()} cores, shared with other work while this ran (figures are upper bounds); "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    with temporary_postgres() as database_url, tempfile.TemporaryDirectory(prefix="wxapp-photos-") as storage:
        app = make_app(database_url, storage)
        from models import db

        with app.app_context():
            db.create_all()
        fill_bank(app)
        bench_in_process(app)
        if "--in-process" not in sys.argv:
            bench_http(app, database_url, storage, trainees(app, count))


if __name__ == "__main__":
    main()
