"""Who uses the product during a term's busiest hour, for Locust (`locust -f` this file, headless).

The plan (a JSON file named by TERM_PLAN, written by bench/term.py) sets how many of each there
are and when things happen (epoch seconds): exam starts spread over `exam_window_s` from `exam_at`,
taps of the class-open notice once it was sent (`notice_file` appears then).

- Follower: menu clicks and texts through the signed, encrypted callback.
- Studier: enters by OAuth (code through the stand-in), opens the portal, the course list and a
  player page, beats every 15 s; when a beat brings an attendance check, fetches its QR as the page
  does and scans it with its own session (the token read from Redis stands in for the camera).
  Checks that credited seconds never go back between two answered beats (`credit_lost`).
- ExamTaker: opens the exam page, starts with a phone-size photo at its slot, answers, submits with
  the second photo, then does a lesson's exercise.
- Staff: logs in, browses dashboard, search, classes and a trainee.
- Tapper: after the notice, opens its link (the learning portal) by OAuth as one trainee after another.

Outcomes other than latency (failures by kind, credit checks, which host answered beats after the
kill) go to TERM_LOCUST_OUT as JSON when the run stops.
"""
from __future__ import annotations

import itertools
import json
import os
import random
import re
import secrets
import select
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import redis
from gevent import ssl as gevent_ssl
from geventhttpclient import connectionpool
from locust import FastHttpUser, between, constant, events, task

from bench.rehearsal.seed import openid
from bench.rehearsal.standin import signed_callback

PLAN = json.loads(Path(os.environ["TERM_PLAN"]).read_text()) if os.environ.get("TERM_PLAN") else {}
OUTCOMES: Counter = Counter()
HOSTS_AFTER_KILL: Counter = Counter()
ANSWERS: dict[str, list[str]] = {}  # "<request name> <kind>" -> the first bodies of unexpected answers
CSRF = re.compile(r'name="csrf[-_]token" (?:content|value)="([^"]+)"')
TAB = re.compile(r'data-tab="([^"]+)"')
MENU_KEYS = ("ONLINE_LEARNING", "MY_COURSES", "MY_CLASS", "MY_EXAM", "MY_CERTIFICATES", "HELP")
TEXTS = ("你好", "怎么学习", "考试", "证书", "学时")
AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"  # wxapp.h5.auth's

_numbers = {role: itertools.count(start) for role, start in PLAN.get("first_number", {}).items()}
# One TLS context for every simulated client. Locust's default factory takes no `cafile`, so
# geventhttpclient loaded the CA bundle into a fresh context for each user's connection pool: 70 % of
# Locust's CPU while the 3,000 arrived (py-spy), taken from the 2 cores the hosts share. A phone
# loads no CA bundle per page; each client still makes its own connection and TLS handshake. The hosts'
# certificate is self-signed, so nothing is verified (Locust's `insecure`, its default).
_TLS = gevent_ssl.create_default_context()
_TLS.check_hostname = False
_TLS.verify_mode = gevent_ssl.CERT_NONE


def _shared_tls(cafile: str | None = None) -> gevent_ssl.SSLContext:
    return _TLS


def _idle_socket_alive(pool: connectionpool.ConnectionPool, sock) -> bool:
    """geventhttpclient's check of a pooled connection before reuse, by poll() instead of select().
    select() refuses a descriptor above 1023 (FD_SETSIZE) and geventhttpclient 2.6.1 takes the refusal for
    a dead connection: with 3,000 clients holding a connection each, almost every request opened a new
    one, 86,898 TLS handshakes for 150,094 requests in a 10-minute run, which phones keeping their
    connection between beats don't make. Same rule: an idle connection with anything to read (a FIN,
    stray bytes) is not reused."""
    if sock is None:
        return False
    try:
        if sock.fileno() < 0:
            return False
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


connectionpool.ConnectionPool._is_socket_alive = _idle_socket_alive
_redis = redis.Redis.from_url(PLAN["redis_url"]) if PLAN else None
_photos: dict[str, bytes] = {}


def photo(which: str) -> bytes:
    if which not in _photos:
        _photos[which] = Path(PLAN["photos"][which]).read_bytes()
    return _photos[which]


def _outcome(response, expected: tuple[int, ...] = (200,)) -> None:
    """Marks a response (catch_response) as a failure unless expected; counts failures by kind."""
    status = response.status_code
    if status in expected:
        response.success()
        return
    if status == 0 or status is None:
        kind = "timeout_or_connection"
    elif status >= 500:
        kind = f"http_{status}"
    else:
        kind = f"unexpected_{status}"
    OUTCOMES[kind] += 1
    name = getattr(response, "request_meta", {}).get("name", "")
    key = f"{name} {kind}"
    if status and len(ANSWERS.get(key, [])) < 3:  # what the app said, for the report
        ANSWERS.setdefault(key, []).append((response.text or "")[:200])
    response.failure(f"{kind} {name}")


class _Client(FastHttpUser):
    """Every simulated client: the shared TLS context, answers awaited up to 30 s."""

    abstract = True
    ssl_context_factory = staticmethod(_shared_tls)
    network_timeout = 30.0


class Trainee(_Client):
    abstract = True
    connection_timeout = 10.0

    def enter(self, number: int, path: str) -> str:
        """The OAuth dance for trainee `number` into `path`; answers the page."""
        self.client.cookiejar.clear()
        with self.client.get(path, name="oauth: page without session", allow_redirects=False,
                             catch_response=True) as r:
            _outcome(r, (302,))
            location = r.headers.get("Location") or ""
        for _ in range(2):  # a second time when the app asks WeChat again (its first code was refused)
            state = parse_qs(urlsplit(location).query).get("state", [""])[0]
            code = f"code-{openid(number)}-{secrets.token_hex(4)}"
            with self.client.get(f"/h5/oauth?code={code}&state={state}", name="oauth: return",
                                 allow_redirects=False, catch_response=True) as r:
                _outcome(r, (302,))
                location = r.headers.get("Location") or ""
            if not location.startswith(AUTHORIZE_URL):
                break
            OUTCOMES["oauth_asked_again"] += 1
        with self.client.get(path, name=f"page {path.split('?')[0]}",
                             catch_response=True) as r:
            _outcome(r)
            return r.text or ""

    def post_form(self, path: str, data: dict, name: str, expected=(200, 302, 303)):
        with self.client.post(path, data=data, name=name, allow_redirects=False, catch_response=True,
                              headers={"Referer": self.host + path}) as r:
            _outcome(r, expected)
            return r


class Follower(_Client):
    """Menu clicks and texts through the callback, signed and encrypted as WeChat's servers send them."""

    fixed_count = PLAN.get("users", {}).get("Follower", 0)
    wait_time = between(1, 5)

    def on_start(self) -> None:
        self.openid = openid(random.randint(1, PLAN["trainees"]))

    @task(3)
    def click(self) -> None:
        xml = (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{self.openid}]]>"
               f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
               f"<Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[{random.choice(MENU_KEYS)}]]></EventKey></xml>")
        self._post(xml)

    @task(1)
    def text(self) -> None:
        xml = (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{self.openid}]]>"
               f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
               f"<Content><![CDATA[{random.choice(TEXTS)}]]></Content><MsgId>{random.getrandbits(62)}</MsgId></xml>")
        self._post(xml)

    def _post(self, xml: str) -> None:
        query, body = signed_callback(xml, PLAN["wechat_token"], PLAN["aes_key"], PLAN["appid"])
        with self.client.post(f"/wechat?{query}", data=body.encode(), name="callback", catch_response=True,
                              headers={"Content-Type": "text/xml"}) as r:
            _outcome(r)


class Studier(Trainee):
    """A trainee watching a lesson: a beat every PLAY_HEARTBEAT_S, attendance checks scanned."""

    fixed_count = PLAN.get("users", {}).get("Studier", 0)
    wait_time = constant(PLAN.get("heartbeat_s", 15))

    def on_start(self) -> None:
        self.number = next(_numbers["Studier"])
        major = (self.number - 1) % 6
        self.lesson = random.choice(PLAN["public_lessons"] + PLAN["major_lessons"][major])
        self.open_player()

    def open_player(self) -> None:
        """Portal, course list and player page; when a step failed (a timeout under load), the
        next beat finds no tab or no session and the trainee opens the player again, as a person would."""
        self.tab = ""
        self.enter(self.number, "/h5/learn")
        with self.client.get("/api/courses", name="api courses", catch_response=True) as r:
            _outcome(r)
        with self.client.get(f"/h5/lesson/{self.lesson}", name="page player", catch_response=True) as r:
            _outcome(r)
            found = TAB.search(r.text or "")
        self.tab = found.group(1) if found else ""
        self.started = time.time()
        self.credited = 0.0

    @task
    def beat(self) -> None:
        if not self.tab:
            OUTCOMES["player_reopened"] += 1
            self.open_player()
            if not self.tab:
                return
        position = time.time() - self.started
        body = {"lesson_id": self.lesson, "position": round(position, 1), "tab": self.tab, "state": "playing"}
        with self.client.post("/api/play/heartbeat", json=body, name="heartbeat", catch_response=True) as r:
            _outcome(r)
            if r.status_code in (401, 409):  # session or page lost: the player stops; reopened next time
                self.tab = ""
            if r.status_code != 200:
                return
            answer = r.json()
            upstream = r.headers.get("X-Upstream", "")
        credited = float(answer.get("credited_seconds") or 0)
        if credited + 1e-6 < self.credited:
            OUTCOMES["credit_lost"] += 1
        else:
            OUTCOMES["credit_kept"] += 1
        self.credited = max(self.credited, credited)
        killed_at = _killed_at()
        if killed_at and time.time() > killed_at + 1:
            HOSTS_AFTER_KILL[upstream.split(",")[-1].strip()] += 1
        if answer.get("challenge"):
            self.scan(answer["challenge"])

    def scan(self, challenge: dict) -> None:
        with self.client.get(challenge["qr_png"], name="attendance qr.png", catch_response=True) as r:
            _outcome(r)
        token = _redis.hget(f"{PLAN['redis_prefix']}:attend:check:{challenge['id']}", "token")
        if token is None:
            OUTCOMES["check_without_token"] += 1
            return
        path = f"/h5/attend/{token.decode()}"
        with self.client.get(path, name="attend page", catch_response=True) as r:
            _outcome(r)
            found = CSRF.search(r.text or "")
        if found:
            self.post_form(path, {"csrf_token": found.group(1)}, "attend confirm", (200,))
            OUTCOMES["checks_scanned"] += 1


_killed_cache = [0.0, None]


def _killed_at() -> float | None:
    """When the orchestrator killed a host (it writes `kill_file`), read at most once a second."""
    now = time.time()
    if now - _killed_cache[0] > 1:
        _killed_cache[0] = now
        path = Path(PLAN["kill_file"])
        _killed_cache[1] = float(path.read_text()) if path.exists() else None
    return _killed_cache[1]


class ExamTaker(Trainee):
    """One exam, start to submit, at its slot; then a lesson's exercise."""

    fixed_count = PLAN.get("users", {}).get("ExamTaker", 0)
    wait_time = constant(1)

    def on_start(self) -> None:
        self.number = next(_numbers["ExamTaker"])
        page = self.enter(self.number, "/h5/exam")
        found = CSRF.search(page)
        self.csrf = found.group(1) if found else ""
        with self.client.get("/api/exams", name="api exams", catch_response=True) as r:
            _outcome(r)
            exams = r.json() if r.status_code == 200 else []
        self.exam = exams[0]["id"] if exams else None
        self.done = self.number > PLAN["users"]["ExamTaker"]  # only the trainees with full hours
        slot = (self.number - 1) % max(1, PLAN["users"]["ExamTaker"])
        self.start_at = PLAN["exam_at"] + PLAN["exam_window_s"] * slot / max(1, PLAN["users"]["ExamTaker"])

    @task
    def take(self) -> None:
        if self.done:
            return
        self.done = True  # one exam; Locust would spawn a stopped user again, with the next number
        if self.exam is None:
            OUTCOMES["exam_not_open"] += 1
            return
        time.sleep(max(0.0, self.start_at - time.time()))
        headers = {"X-CSRFToken": self.csrf, "Referer": self.host + "/h5/exam"}
        with self.client.post(f"/api/exams/{self.exam}/attempts", name="exam start", catch_response=True,
                              files={"photo": ("before.jpg", photo("before"), "image/jpeg")}, headers=headers) as r:
            _outcome(r, (200, 201))
            attempt = r.json().get("id") if r.status_code in (200, 201) else None
        if attempt is None:
            return
        with self.client.get(f"/api/attempts/{attempt}", name="exam paper", catch_response=True) as r:
            _outcome(r)
            questions = r.json().get("questions", []) if r.status_code == 200 else []
        for q in questions:
            keys = [o["key"] for o in q.get("options") or []] or ["T", "F"]
            answer = random.sample(keys, 2) if q.get("type") == "multi" and len(keys) > 1 else [random.choice(keys)]
            with self.client.put(f"/api/attempts/{attempt}/answers/{q['id']}", json={"answer": answer},
                                 name="exam answer", headers=headers, catch_response=True) as r:
                _outcome(r, (204,))
            time.sleep(random.uniform(*PLAN.get("answer_s", (0.5, 2.0))))
        with self.client.post(f"/api/attempts/{attempt}/submit", name="exam submit", catch_response=True,
                              files={"photo": ("after.jpg", photo("after"), "image/jpeg")}, headers=headers) as r:
            _outcome(r)
        OUTCOMES["exams_submitted"] += 1
        self.exercise()

    def exercise(self) -> None:
        path = f"/h5/lesson/{PLAN['exercise_lesson']}/exercise"
        with self.client.get(path, name="exercise page", catch_response=True) as r:
            _outcome(r)
            found = CSRF.search(r.text or "")
            questions = re.findall(r'name="(q\d+)"', r.text or "")
        if found:
            data = {"csrf_token": found.group(1), **{q: random.choice("ABCD") for q in set(questions)}}
            self.post_form(path, data, "exercise submit", (200,))


class Staff(_Client):
    fixed_count = PLAN.get("users", {}).get("Staff", 0)
    wait_time = between(3, 8)

    def on_start(self) -> None:
        with self.client.get("/admin/login", name="admin login page", catch_response=True) as r:
            _outcome(r)
            found = CSRF.search(r.text or "")
        with self.client.post("/admin/login", name="admin login", allow_redirects=False, catch_response=True,
                              data={"csrf_token": found.group(1) if found else "", "username": PLAN["staff_user"],
                                    "password": PLAN["staff_password"]},
                              headers={"Referer": self.host + "/admin/login"}) as r:
            _outcome(r, (302, 303))

    def _get(self, path: str, name: str) -> None:
        with self.client.get(path, name=name, catch_response=True) as r:
            _outcome(r)

    @task(2)
    def dashboard(self) -> None:
        self._get("/admin/", "admin dashboard")

    @task(3)
    def search(self) -> None:
        self._get(f"/admin/trainees?q=学员{random.randint(1, PLAN['trainees'])}", "admin search")

    @task(2)
    def a_class(self) -> None:
        self._get(f"/admin/classes/{random.choice(PLAN['classes'])}", "admin class page")

    @task(1)
    def classes(self) -> None:
        self._get("/admin/classes", "admin classes")

    @task(2)
    def trainee(self) -> None:
        self._get(f"/admin/trainees/{random.randint(1, PLAN['trainees'])}", "admin trainee page")


class Tapper(Trainee):
    """Trainees tapping the class-open notice: its link, opened by OAuth, one trainee after another."""

    fixed_count = PLAN.get("users", {}).get("Tapper", 0)

    def wait_time(self) -> float:
        return PLAN["users"]["Tapper"] * PLAN["tap_window_s"] / max(1, PLAN["taps"])

    @task
    def tap(self) -> None:
        notice = Path(PLAN["notice_file"])
        if not notice.exists():
            return
        if _tapped[0] >= PLAN["taps"]:
            return  # all taps done: idle (a stopped user would be spawned again)
        n = next(_numbers["Tapper"])
        if n > PLAN["taps"]:
            return
        _tapped[0] = n
        number = _tap_order()[n - 1]
        self.enter(number, PLAN.get("notice_path", "/h5/learn"))
        OUTCOMES["taps"] += 1


_order: list[int] = []
_tapped = [0]


def _tap_order() -> list[int]:
    if not _order:
        _order.extend(random.Random(22).sample(range(1, PLAN["trainees"] + 1), PLAN["taps"]))
    return _order


@events.quitting.add_listener
def _write_outcomes(environment, **kwargs) -> None:
    if PLAN.get("locust_out"):
        Path(PLAN["locust_out"]).write_text(json.dumps({"outcomes": dict(OUTCOMES), "answers": ANSWERS,
                                                        "hosts_after_kill": dict(HOSTS_AFTER_KILL)},
                                                       ensure_ascii=False))
