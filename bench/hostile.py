"""From outside: a production start (gunicorn, WXAPP_ENV=production, PROXY_COUNT=1, every request
sent as a TLS proxy forwards it) over its own Redis and PostgreSQL, probed with hostile input and
outages. Prints each probe that did not hold, the count of hostile inputs tried and held, and a
verdict. Run: `.venv/bin/python bench/hostile.py` (needs redis-server and PostgreSQL binaries).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, VENV_BIN, gunicorn, production_env  # noqa: E402
from tests.fakewechat import FakeWeChat  # noqa: E402
from tests.faults.servers import RedisServer  # noqa: E402
from tests.h5.test_hostile_requests import HOSTILE_BODIES, HOSTILE_PATHS  # noqa: E402
from tests.pgtemp import PrivateCluster, pg_bin  # noqa: E402
from tests.test_import_hostile import MALFORMED, malformed_files  # noqa: E402

PHONE, ID_CARD, WRONG_ID = "13912340001", "320505198001010017", "11010519491231002X"
PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
tried = held = 0
failures: list[str] = []


def probe(name: str, ok: bool) -> None:
    global tried, held
    tried += 1
    held += ok
    if not ok:
        failures.append(name)


class Phone:
    """A trainee's WeChat browser behind the proxy; keeps the (Secure) session cookie by hand."""

    def __init__(self, base: str, fake: FakeWeChat, openid: str):
        self.base, self.cookie = base, ""
        first = self.get("/h5/bind")
        state = re.search(r"state=([^&#]+)", first.headers["Location"]).group(1)
        self.get(f"/h5/oauth?code={fake.oauth_code(openid)}&state={state}")

    def _keep(self, response: requests.Response) -> requests.Response:
        if "wxapp_session" in response.cookies:
            self.cookie = f"wxapp_session={response.cookies['wxapp_session']}"
        return response

    def get(self, path: str, **headers) -> requests.Response:
        return self._keep(requests.get(self.base + path, headers={**PROXY, "Cookie": self.cookie, **headers},
                                       allow_redirects=False, timeout=15))

    def post(self, path: str, headers: dict | None = None, **kwargs) -> requests.Response:
        # A browser's same-origin form post names its page (Flask-WTF checks it over HTTPS).
        page = self.base.replace("http://", "https://") + "/h5/bind"
        headers = {**PROXY, "Cookie": self.cookie, "Referer": page, **(headers or {})}
        return self._keep(requests.post(self.base + path, headers=headers, allow_redirects=False, timeout=15, **kwargs))

    def token(self) -> str:
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', self.get("/h5/bind").text).group(1)

    def bind(self, phone: str, id_card: str) -> requests.Response:
        return self.post("/h5/bind", data={"phone": phone, "id_card": id_card, "csrf_token": self.token()})


def seed(env: dict) -> int:
    code = (
        "from wxapp import create_app\nfrom tests import factories\nfrom tests.study_util import lesson\n"
        "app = create_app()\n"
        f"factories.trainee(app, phone='{PHONE}', id_card='{ID_CARD}', openid='oHostileBound0000000000001')\n"
        f"factories.trainee(app, name='吴二', phone='13912340002', id_card='32058319751212108X')\n"
        "print(lesson(app, duration_s=300))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return int(run.stdout.strip().splitlines()[-1])


def hostile_requests(base: str, fake: FakeWeChat, lesson_id: int) -> None:
    me = Phone(base, fake, "oHostileBound0000000000001")
    for path in HOSTILE_PATHS:
        probe(f"GET {path[:40]}", me.get(path).status_code in (200, 302, 308, 400, 404, 414))
    tab = re.search(r'data-tab="([^"]+)"', me.get(f"/h5/lesson/{lesson_id}").text).group(1)
    for n, body in enumerate(HOSTILE_BODIES):
        r = me.post("/api/play/heartbeat", data=body.encode("utf-8", "surrogatepass"),
                    headers={"Content-Type": "text/plain"})
        probe(f"heartbeat body #{n}", r.status_code in (400, 409, 413) and "error" in r.json())
    ok = me.post("/api/play/heartbeat", json={"lesson_id": lesson_id, "position": 0, "tab": tab, "state": "paused"})
    probe("a good heartbeat beside them", ok.status_code == 200)
    for host_header in ("X-Forwarded-Host", "Host"):
        for path in ("/h5//learn", "//h5/learn", "/h5//bind"):
            location = me.get(path, **{host_header: "evil.com"}).headers.get("Location", "")
            probe(f"{host_header}: evil.com on {path}", "evil.com" not in location)
    for path in ("/h5/learn", "/api/courses", "/h5/bind"):
        h = me.get(path).headers
        probe(f"headers of {path}", "frame-ancestors 'none'" in h.get("Content-Security-Policy", "")
              and h.get("Strict-Transport-Security") and h.get("X-Content-Type-Options") == "nosniff"
              and h.get("Cache-Control") == "no-store" and h.get("X-Frame-Options") == "DENY")


def hostile_binds(base: str, fake: FakeWeChat) -> None:
    stranger = Phone(base, fake, "oHostileStranger0000000001")
    for typed in (ID_CARD + "1", ID_CARD + "12", ID_CARD + "123", "9" * 5000, "<script>alert(1)</script>",
                  "３２０５０５１９８００１０１００１７" * 2, "\u202e" + ID_CARD, "'; DROP TABLE trainees; --"):
        r = stranger.bind("13912340002", typed)
        probe(f"bind id_card {typed[:20]!r}", r.status_code == 400 and typed not in r.text and "<script>alert" not in r.text
              and 'id="error-id_card"' in r.text)
    for phone in ("1" * 100_000, "+86 139 1234 0002 ext 9", "１３９１２３４０００２x", ""):
        r = stranger.bind(phone, ID_CARD)
        probe(f"bind phone {phone[:20]!r}", r.status_code == 400 and 'id="error-phone"' in r.text)
    answers = {re.search(r'id="error-form">([^<]+)<', stranger.bind(p, i).text).group(1).strip()
               for p, i in [("13900000000", ID_CARD), (PHONE, WRONG_ID), ("13900000000", WRONG_ID)]}
    probe(f"one answer for any mismatch {answers}", len(answers) == 1 and "请核对两个号码" in answers.pop())
    forged = stranger.post("/h5/bind", data={"phone": "13912340002", "id_card": ID_CARD, "csrf_token": "x"})
    probe("forged CSRF: styled page, phone kept", forged.status_code == 400 and 'value="13912340002"' in forged.text
          and "weui" in forged.text and ID_CARD not in forged.text)
    guesser = Phone(base, fake, "oHostileGuesser00000000001")
    token, codes = guesser.token(), []

    def guess() -> None:
        codes.append(guesser.post("/h5/bind", data={"phone": PHONE, "id_card": WRONG_ID, "csrf_token": token}).text)

    threads = [threading.Thread(target=guess) for _ in range(25)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    reached = sum("请核对两个号码" in text for text in codes)
    print(f"25 parallel wrong tries from one WeChat: {reached} reached the roster, "
          f"{sum('尝试次数过多' in text for text in codes)} refused as locked")
    probe(f"25 parallel wrong tries reached the roster {reached} times (≤ 5)", reached <= 5)
    room = [Phone(base, fake, f"oHostileClass{n:014d}") for n in range(8)]
    answers = [p.bind("13900000000", WRONG_ID) for p in room for _ in range(5)]
    probe("40 posts from one address: each answered, no 429",
          all(r.status_code == 400 and "请核对两个号码" in r.text for r in answers))
    late = Phone(base, fake, "oHostileLate000000000000001").bind("13912340002", "32058319751212108X")
    probe(f"a classmate still binds ({late.status_code} {re.findall(r'id=.error-[a-z_]+.>([^<]+)<', late.text)})",
          late.status_code == 303)


def hostile_files(env: dict) -> None:
    with tempfile.TemporaryDirectory() as folder:
        files = malformed_files(Path(folder))
        for kind in MALFORMED:
            run = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "roster", "import", str(files[kind])],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
            lines = (run.stdout + run.stderr).strip().splitlines()
            probe(f"roster import {kind}", run.returncode == 1 and len(lines) == 1 and "Traceback" not in lines[0])


def outages(base: str, fake: FakeWeChat, redis: RedisServer, postgres: PrivateCluster, lesson_id: int) -> None:
    me = Phone(base, fake, "oHostileBound0000000000001")
    tab = re.search(r'data-tab="([^"]+)"', me.get(f"/h5/lesson/{lesson_id}").text).group(1)

    def beat(position: float = 0) -> requests.Response:
        return me.post("/api/play/heartbeat", json={"lesson_id": lesson_id, "position": position, "tab": tab,
                                                    "state": "paused"})
    redis.hang()
    started = time.monotonic()
    r = beat()
    took = time.monotonic() - started
    health = requests.get(base + "/healthz", timeout=15)
    redis.resume()
    print(f"heartbeat while Redis hangs (SIGSTOP): {r.status_code} {r.json()} after {took:.1f} s")
    probe(f"heartbeat, Redis hung: {r.status_code} in {took:.1f} s", r.status_code == 503 and "视频已暂停" in r.json()["error"])
    probe("healthz, Redis hung", health.status_code == 503 and health.json()["redis"].startswith("down"))
    probe("heartbeat after SIGCONT", beat().status_code == 200)
    redis.stop()
    probe("heartbeat, Redis down", beat().status_code == 503)
    probe("healthz, Redis down", requests.get(base + "/healthz", timeout=15).status_code == 503)
    redis.start()
    postgres.stop()
    probe("healthz, PostgreSQL down", requests.get(base + "/healthz", timeout=15).json()["database"].startswith("down"))
    probe("learn page, PostgreSQL down: 503", me.get("/h5/learn").status_code == 503)
    postgres.start()
    after = [requests.get(base + "/healthz", timeout=15).status_code for _ in range(4)]
    probe("healthz after PostgreSQL is back", after[-1] == 200)


def main() -> None:
    if pg_bin() is None:
        sys.exit("bench: PostgreSQL server binaries are needed (set WXAPP_PG_BIN)")
    redis, postgres, fake = RedisServer().start(), PrivateCluster(pg_bin()).start(), FakeWeChat().start()
    try:
        postgres.create_database()
        env = production_env(postgres.url, redis.url, WECHAT_API_BASE=fake.base_url, PROXY_COUNT="1",
                             GUNICORN_WORKERS="2", SCHOOL_PHONE="0512-68888888", LOG_LEVEL="WARNING")
        subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        lesson_id = seed(env)
        with gunicorn("wsgi:app", env) as port:
            base = f"http://127.0.0.1:{port}"
            hostile_requests(base, fake, lesson_id)
            hostile_binds(base, fake)
            hostile_files(env)
            outages(base, fake, redis, postgres, lesson_id)
    finally:
        fake.stop()
        redis.stop()
        postgres.destroy()
    for name in failures:
        print(f"DID NOT HOLD: {name}")
    print(f"hostile inputs and faults tried: {tried}, held: {held}")
    print("verdict:", "HOLDS" if held == tried else "DOES NOT HOLD")
    sys.exit(0 if held == tried else 1)


if __name__ == "__main__":
    os.environ.pop("HTTP_PROXY", None)
    main()
