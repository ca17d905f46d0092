"""Benchmark: the staff console's dashboard and trainee search on a school-sized PostgreSQL.

Run standalone: `.venv/bin/python bench/console.py`. Builds a temporary database (dropped at the
end) with 20,000 trainees (a tenth in two majors), 50 classes, 200,000 lesson-progress rows, a
day of attendance checks and a few thousand notices; then times, through the app in-process
(Flask's test client, a logged-in admin, no network), the dashboard, the trainee lists its numbers
link to, a class page, the trainee searches and the at-risk list (注册即将到期: registrations end
spread over the next ~1000 days). Prints p50 / p95 / max in ms; the target is p95 ≤
200 ms for each. The dashboard keeps its study figures for a minute (`services.admin.figures`), so
both its usual answer and a recount are timed, the recount also alone (`count_study`, no page).
The seeding goes through the session as the app's writes do, so the hours summary
(`services.study.hours`) is kept as it would be. The machine may be shared: say so beside the
figures (its load average is printed at the end). WXAPP_BENCH_PG_ADMIN and WXAPP_BENCH_REDIS
choose the servers.
"""
from __future__ import annotations

import os
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select, text  # noqa: E402

from bench.common import temporary_postgres  # noqa: E402
from bench.import_roster import fictitious_id  # noqa: E402
from models import (  # noqa: E402
    AttendanceCheck,
    ClassMember,
    Completion,
    Course,
    Enrollment,
    HoursSummary,
    Lesson,
    LessonProgress,
    Notice,
    OutboxMessage,
    Trainee,
    TrainingClass,
    WechatUser,
    db,
)
from services.admin import at_risk, figures  # noqa: E402
from services.identity import staff  # noqa: E402
from services.identity.pii import mask_id_card  # noqa: E402
from services.school.majors import ensure_majors  # noqa: E402
from services.study import hours  # noqa: E402
from wxapp import create_app  # noqa: E402

TRAINEES, PROGRESS_ROWS, CLASSES = 20_000, 200_000, 50
FINISHERS = 2_000
RUNS = 40
REDIS = os.environ.get("WXAPP_BENCH_REDIS", "redis://127.0.0.1:6379/15")
CHUNK = 5000
COMPANIES = [f"苏州第{n}建设工程有限公司" for n in range(1, 301)]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


def bulk(model, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(model), rows[start:start + CHUNK])


def seed(app, rng: random.Random) -> dict:
    """Fills the database; returns a few real values to search for."""
    now = datetime.now(UTC)
    today = now.date()
    cipher = app.extensions["pii"]
    majors = list(ensure_majors(db.session).values())
    public = Course(kind="public", name="公共课程", hours_required=16)
    public.lessons = [Lesson(title=f"公共课第{n}讲", video_url="https://m/x.mp4", duration_s=2700, hours=1,
                             position=n) for n in range(1, 17)]
    courses = {m.id: Course(kind="professional", major_id=m.id, name=f"{m.name}专业课", hours_required=40,
                            lessons=[Lesson(title=f"{m.name}第{n}讲", video_url="https://m/y.mp4", duration_s=5400,
                                            hours=2, position=n) for n in range(1, 21)]) for m in majors}
    db.session.add_all([public, *courses.values()])
    db.session.flush()
    classes = [TrainingClass(code=f"B{n:03d}", major_id=majors[n % len(majors)].id, name=f"第{n}期",
                             starts_at=now + timedelta(days=n), place="培训楼") for n in range(CLASSES)]
    db.session.add_all(classes)
    db.session.flush()
    cards = [fictitious_id(i) for i in range(TRAINEES)]
    bulk(Trainee, [{"name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN), "phone": f"139{i:08d}",
                    "company": rng.choice(COMPANIES), "id_card_hash": cipher.lookup_hash(card),
                    "id_card_enc": cipher.encrypt(card), "id_card_mask": mask_id_card(card)}
                   for i, card in enumerate(cards)])
    ids = list(db.session.scalars(select(Trainee.id).order_by(Trainee.id)))
    by_major = {m.id: [c for c in classes if c.major_id == m.id] for m in majors}
    enrollments, members, studied = [], [], {}
    for tid in ids:
        chosen = rng.sample(majors, 2 if rng.random() < 0.1 else 1)
        for n, major in enumerate(chosen):
            enrollments.append({"trainee_id": tid, "major_id": major.id, "kind": "main" if n == 0 else "added",
                                "fee": major.fee_main if n == 0 else major.fee_added,
                                "registration_expires": today + timedelta(days=rng.randint(-30, 1000))})
        members.append({"class_id": rng.choice(by_major[chosen[0].id]).id, "trainee_id": tid})
        studied[tid] = [le.id for le in public.lessons] + [le.id for m in chosen for le in courses[m.id].lessons]
    bulk(Enrollment, enrollments)
    bulk(ClassMember, members)
    bulk(WechatUser, [{"openid": f"oBench{tid:08d}", "subscribed": True, "trainee_id": tid, "bound_at": now}
                      for tid in ids if rng.random() < 0.7])
    # A few trainees have watched everything (their hours are finished); the rest share what is left.
    progress, keen = [], ids[:FINISHERS]
    for tid in keen:
        progress += [{"trainee_id": tid, "lesson_id": lesson_id, "watched": "[[0, 2700]]",
                      "credited_seconds": 2700.0, "completed_at": now} for lesson_id in studied[tid]]
    rest = ids[FINISHERS:]
    per, extra = divmod(PROGRESS_ROWS - len(progress), len(rest))
    for n, tid in enumerate(rest):
        for lesson_id in rng.sample(studied[tid], per + (n < extra)):
            progress.append({"trainee_id": tid, "lesson_id": lesson_id, "watched": "[[0, 600]]",
                             "credited_seconds": 600.0, "completed_at": now if rng.random() < 0.8 else None})
    bulk(LessonProgress, progress)
    # Half the finishers passed their main major's exam.
    main_of = {e["trainee_id"]: e["major_id"] for e in enrollments if e["kind"] == "main"}
    bulk(Completion, [{"number": f"B{n:08d}", "trainee_id": tid, "major_id": main_of[tid], "score": 80,
                       "completed_at": now, "state": "valid"} for n, tid in enumerate(keen[::2])])
    bulk(AttendanceCheck, [{"public_id": f"p{n}", "trainee_id": rng.choice(ids), "lesson_id": public.lessons[0].id,
                            "token_hash": f"h{n:060d}", "issued_at": now - timedelta(minutes=rng.randint(1, 600)),
                            "expires_at": now - timedelta(minutes=1), "status": rng.choice(["verified", "expired"])}
                           for n in range(5000)])
    notices = [Notice(key=f"class_open:{c.id}", kind="class_open", class_id=c.id, requested_by="bench", params={},
                      recipients=0) for c in classes]
    db.session.add_all(notices)
    db.session.flush()
    class_of = {m["trainee_id"]: m["class_id"] for m in members}
    notice_of = {n.class_id: n.id for n in notices}
    bulk(OutboxMessage, [{"notice_id": notice_of[class_of[tid]], "trainee_id": tid, "channel": "sms",
                          "state": rng.choice(["sent", "sent", "sent", "failed", "unknown"])} for tid in ids[:5000]])
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    row = db.session.get(Trainee, ids[len(ids) // 2])
    return {"name": row.name[:2], "phone": row.phone, "card": cards[len(ids) // 2], "company": row.company[:6],
            "major": majors[0].id, "class": classes[0].code}


def timed(call, runs: int = RUNS) -> list[float]:
    call()  # warm-up: templates compiled, connections open
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - start) * 1000)
        if response is not None:
            assert response.status_code in (200, 302), response.status_code
    return times


def recount(app) -> None:
    """The study figures counted afresh in the service, without the page around them."""
    with app.app_context():
        figures.count_study(db.session, datetime.now(UTC))


def at_risk_page(app) -> None:
    """The at-risk list's first page in the service, without the page around it."""
    with app.app_context():
        at_risk.page(db.session, at_risk.Filters(), datetime.now(UTC).date(), 1)


def at_risk_count(app) -> None:
    """The dashboard's at-risk figure alone (`services.admin.at_risk.count`)."""
    with app.app_context():
        at_risk.count(db.session, at_risk.Filters(), datetime.now(UTC).date())


def report(label: str, times: list[float]) -> None:
    times = sorted(times)
    p95 = times[max(0, int(len(times) * 0.95) - 1)]
    print(f"{label:44s} p50 {statistics.median(times):7.1f} ms   p95 {p95:7.1f} ms   max {times[-1]:7.1f} ms")


def main() -> None:
    rng = random.Random(2027)
    with temporary_postgres() as url:
        app = create_app({"WXAPP_ENV": "testing", "DATABASE_URL": url, "REDIS_URL": REDIS,
                          "SECRET_KEY": "bench-" + "s" * 40, "PII_KEY": "bench-pii-" + "k" * 40,
                          "WECHAT_API_BASE": "http://127.0.0.1:9/", "WXAPP_INSTANCE": "/tmp/wxapp-bench-console"})
        app.config["WTF_CSRF_ENABLED"] = False  # the bench times pages, not the token dance
        with app.app_context():
            db.create_all()
            start = time.perf_counter()
            values = seed(app, rng)
            print(f"seeded {TRAINEES} trainees, {PROGRESS_ROWS} lesson-progress rows, {CLASSES} classes "
                  f"in {time.perf_counter() - start:.1f} s")
            kept = set(db.session.execute(select(HoursSummary.trainee_id, HoursSummary.course_id,
                                                 HoursSummary.lessons_started, HoursSummary.lessons_completed,
                                                 HoursSummary.hours_earned)))
            print(f"hours summary: {len(kept)} rows,",
                  "equal to a recount" if kept == set(db.session.execute(hours.recount())) else "NOT EQUAL TO A RECOUNT")
            staff.create(db.session, "bench", "Bench2027pass", "bench", "admin")
        client = app.test_client()
        client.post("/admin/login", data={"username": "bench", "password": "Bench2027pass"})
        assert client.get("/admin/").status_code == 200
        report("dashboard GET /admin/ (figures kept 60 s)", timed(lambda: client.get("/admin/")))
        report("dashboard GET /admin/?fresh=1 (counted)", timed(lambda: client.get("/admin/?fresh=1"), runs=10))
        report("search by name (GET ?q=)", timed(lambda: client.get(f"/admin/trainees?q={values['name']}")))
        report("search by company (GET ?q=)", timed(lambda: client.get(f"/admin/trainees?q={values['company']}")))
        report("search by phone (POST)", timed(lambda: client.post("/admin/trainees", data={"q": values["phone"]})))
        report("search by ID card (POST, hash)",
               timed(lambda: client.post("/admin/trainees", data={"q": values["card"]})))
        report("list page 100 (GET ?page=100)", timed(lambda: client.get("/admin/trainees?page=100")))
        report("recount figures (count_study, no page)", timed(lambda: recount(app), runs=20))
        report("finished trainees (GET ?state=)", timed(lambda: client.get("/admin/trainees?state=finished")))
        major, training_class = values["major"], values["class"]
        report("finished of a major (GET ?major=&state=)",
               timed(lambda: client.get(f"/admin/trainees?major={major}&state=finished")))
        report("finished of a class (GET ?class=&state=)",
               timed(lambda: client.get(f"/admin/trainees?class={training_class}&state=finished")))
        report("studying trainees (GET ?state=)", timed(lambda: client.get("/admin/trainees?state=studying")))
        report("passed trainees (GET ?state=)", timed(lambda: client.get("/admin/trainees?state=passed")))
        report("class page, members' hours (GET)", timed(lambda: client.get(f"/admin/classes/{training_class}")))
        report("at-risk list (GET /admin/at-risk)", timed(lambda: client.get("/admin/at-risk")))
        report("at-risk list, page 5 (GET ?page=5)", timed(lambda: client.get("/admin/at-risk?page=5")))
        report("at-risk of a class (GET ?class=)", timed(lambda: client.get(f"/admin/at-risk?class={training_class}")))
        report("at-risk of a company (GET ?company=)",
               timed(lambda: client.get(f"/admin/at-risk?company={values['company']}")))
        report("at-risk list's query (at_risk.page, no page)", timed(lambda: at_risk_page(app)))
        report("at-risk count (at_risk.count, no page)", timed(lambda: at_risk_count(app)))
        report("at-risk export (GET /admin/at-risk.xlsx)", timed(lambda: client.get("/admin/at-risk.xlsx"), runs=5))
        page = client.get("/admin/").get_data(as_text=True)
        print("at risk within 90 days:", re.search(r'href="/admin/at-risk">(\d+)', page).group(1))
        print("dashboard shows: enrolled", re.search(r'href="/admin/trainees">(\d+)', page).group(1),
              "· finished", re.search(r'state=finished">(\d+)', page).group(1),
              "· passed", re.search(r'state=passed">(\d+)', page).group(1))
        print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
