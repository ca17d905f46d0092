"""Benchmark: the class-open notice to 10,000 trainees against a stand-in WeChat answering in 50 ms.

Run standalone: `.venv/bin/python bench/fanout.py [ROWS ...]` (default 2500 10000). Each size runs
in its own process on a fresh PostgreSQL database (created and dropped through
WXAPP_BENCH_PG_ADMIN): it writes the notice's outbox rows, then dispatches them with the rate
limit off (WXAPP_BENCH_RATE=500 sets OUTBOX_RATE_PER_S, as the rehearsal has it), and prints the time to write, the sends per second, the wall time of the whole notice
and the process's resident memory before and at its peak, so that sizes can be compared (memory
should stay flat in the number of rows). The stand-in is a separate asyncio process, so it does
not share the dispatcher's interpreter lock.
"""
from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import temporary_postgres  # noqa: E402

LATENCY_S = 0.05
POOL_SIZE = int(os.environ.get("WXAPP_BENCH_POOL", "32"))
REDIS_URL = os.environ.get("WXAPP_BENCH_REDIS", "redis://127.0.0.1:6379/6")
CLASS_CODE = "BENCH-FANOUT"
# Loopback only: a proxy from the environment would carry every send away and back.
for _proxy in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_proxy, None)


# -- the stand-in WeChat API (its own process) -------------------------------------------------

async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, serial: list[int]) -> None:
    try:
        while True:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            length = next((int(line.split(":", 1)[1]) for line in head[1:]
                           if line.lower().startswith("content-length:")), 0)
            if length:
                await reader.readexactly(length)
            await asyncio.sleep(LATENCY_S)
            serial[0] += 1
            body = {"access_token": "bench-token", "expires_in": 7200} if "stable_token" in head[0] \
                else {"errcode": 0, "errmsg": "ok", "msgid": serial[0]}
            payload = json.dumps(body).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(payload), payload))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve() -> None:
    serial = [0]
    server = await asyncio.start_server(lambda r, w: _answer(r, w, serial), "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


# -- one size, in a child process ----------------------------------------------------------------

def _settings(database_url: str, api_base: str, instance: str) -> dict:
    return {
        "WXAPP_ENV": "testing", "SECRET_KEY": "bench-secret-" + "x" * 32,
        "PII_KEY": "bench-pii-key-0123456789-abcdefghijklmnop", "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL, "WXAPP_INSTANCE": instance, "WECHAT_APPID": "wxbenchfanout0001",
        "WECHAT_SECRET": "bench", "WECHAT_API_BASE": api_base, "WECHAT_TEMPLATE_CLASS_OPEN": "tmpl-bench",
        "OUTBOX_RATE_PER_S": os.environ.get("WXAPP_BENCH_RATE", "0"), "OUTBOX_POOL_SIZE": str(POOL_SIZE),
    }


def _populate(rows: int) -> None:
    """`rows` trainees bound to following WeChats, all in one class: bulk inserts, no ORM objects."""
    from sqlalchemy import insert

    from models import ClassMember, Trainee, TrainingClass, WechatUser, db
    from services.school.majors import ensure_majors

    major = ensure_majors(db.session)["建筑工程"]
    training_class = TrainingClass(code=CLASS_CODE, major=major, name="基准测试班", place="苏州市姑苏区培训楼",
                          starts_at=datetime(2027, 3, 1, 1, tzinfo=UTC))
    db.session.add(training_class)
    db.session.flush()
    now = datetime.now(UTC)
    db.session.execute(insert(Trainee), [
        {"id": n, "name": f"学员{n}", "phone": f"139{n:08d}", "company": "基准公司", "id_card_hash": f"bench{n}",
         "id_card_enc": "-", "id_card_mask": "3205**********0000", "is_demo": False, "created_at": now,
         "updated_at": now} for n in range(1, rows + 1)])
    db.session.execute(insert(WechatUser), [
        {"openid": f"oBench{n:08d}", "subscribed": True, "trainee_id": n, "created_at": now}
        for n in range(1, rows + 1)])
    db.session.execute(insert(ClassMember), [
        {"class_id": training_class.id, "trainee_id": n, "created_at": now} for n in range(1, rows + 1)])
    db.session.commit()


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(rows: int, api_base: str) -> None:
    import redis as redis_lib

    from models import db
    from services.notices import notices
    from wxapp import create_app

    redis_lib.Redis.from_url(REDIS_URL).flushdb()
    with temporary_postgres() as database_url:
        app = create_app(_settings(database_url, api_base, f"/tmp/wxapp-bench-fanout-{os.getpid()}"))
        with app.app_context():
            db.create_all()
            _populate(rows)
            tools = app.extensions["notice_desk"]
            tools.dispatcher()  # builds the SMS backend and reads the templates before measuring
            rss_before = _rss_mib()
            started = time.perf_counter()
            notice = tools.class_open(CLASS_CODE, "bench")
            written = time.perf_counter()
            report = tools.dispatcher().run(notice_id=notice.id, wait=True)
            finished = time.perf_counter()
            counts = notices.counts(db.session, notice.id)
            db.session.remove()
            db.engine.dispose()
    print("RESULT " + json.dumps({
        "rows": rows, "write_s": written - started, "dispatch_s": finished - written, "wall_s": finished - started,
        "sent": report.sent, "counts": counts, "rss_before": rss_before,
        "rss_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }), flush=True)


# -- the driver ---------------------------------------------------------------------------------

def main(sizes: list[int]) -> None:
    stand_in = subprocess.Popen([sys.executable, __file__, "--stand-in"], stdout=subprocess.PIPE, text=True)
    try:
        api_base = f"http://127.0.0.1:{stand_in.stdout.readline().strip()}/"
        rate = os.environ.get("WXAPP_BENCH_RATE", "0")
        limit = f"rate limit {rate}/s" if rate not in ("", "0") else "rate limit off"
        print(f"stand-in WeChat answering in {LATENCY_S * 1000:.0f} ms; PostgreSQL; pool {POOL_SIZE}; {limit}")
        print(f"{'rows':>7} {'write rows':>11} {'dispatch':>9} {'sends/s':>8} {'wall':>8} "
              f"{'RSS before':>11} {'RSS peak':>9}  states")
        for rows in sizes:
            out = subprocess.run([sys.executable, __file__, "--child", str(rows), api_base],
                                 capture_output=True, text=True, check=True).stdout
            result = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
            print(f"{rows:>7} {result['write_s']:>9.2f} s {result['dispatch_s']:>7.2f} s "
                  f"{result['sent'] / result['dispatch_s']:>8.0f} {result['wall_s']:>6.2f} s "
                  f"{result['rss_before']:>7.0f} MiB {result['rss_peak']:>5.0f} MiB  {result['counts']}")
    finally:
        stand_in.terminate()
        stand_in.wait(10)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--stand-in"]:
        asyncio.run(_serve())
    elif sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]), sys.argv[3])
    else:
        main([int(arg) for arg in sys.argv[1:]] or [2500, 10_000])
