"""A fake WeChat HTTP API on loopback: scriptable answers per path, every request recorded.

    fake.script("cgi-bin/message/template/send", {"errcode": 42001, "errmsg": "expired"}, {...})
    fake.script("cgi-bin/menu/create", Delay(3))      # answers after 3 s
    fake.script("cgi-bin/qrcode/create", HttpError(502))
    fake.refused.add(openid)                          # template sends to it answer 43101
    fake.template_delay_s = 2                         # delivered at once, answered 2 s later
    fake.followers = [...]                            # what user/get and batchget answer

Scripted answers are used first, in order; an empty queue falls back to a plausible WeChat
answer (a new token on each token fetch, msgids, tickets, errcode 0). Paths are relative to
`base_url`, e.g. `cgi-bin/stable_token`.
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

CLIENT_MSG_WINDOW_S = 600  # WeChat delivers one message per OpenID + client_msg_id within 10 minutes


@dataclass(frozen=True)
class Delay:
    """Answer `body` (default answer when None) after `seconds`."""

    seconds: float
    body: dict | None = None


@dataclass(frozen=True)
class HttpError:
    status: int
    body: str = "error"


@dataclass(frozen=True)
class Raw:
    """A non-JSON answer (a file, as cgi-bin/media/get sends)."""

    body: bytes
    content_type: str = "image/jpeg"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict
    json: object = None


@dataclass
class FakeWeChat:
    requests: list[Request] = field(default_factory=list)
    _queues: dict = field(default_factory=lambda: defaultdict(deque))
    _serial: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _codes: dict = field(default_factory=dict)
    # -- as WeChat really behaves (see the block at the end) --
    followers: list = field(default_factory=list)       # what user/get lists, in order
    follower_page_size: int = 10_000
    refused: set = field(default_factory=set)           # OpenIDs that refused the template: 43101
    not_following: set = field(default_factory=set)     # OpenIDs answered 43004
    template_delay_s: float = 0.0                       # answer template sends this late (still delivered)
    delivered: list = field(default_factory=list)       # (openid, template_id) of each message that reached a phone
    _sent_ids: dict = field(default_factory=dict)       # (openid, client_msg_id) -> (msgid, monotonic time)

    def start(self) -> FakeWeChat:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/"

    def script(self, path: str, *answers) -> None:
        """Queue answers for `path`: dicts (JSON bodies), `Delay`, `HttpError`."""
        with self._lock:
            self._queues[path].extend(answers)

    def oauth_code(self, openid: str, snapshot: bool = False) -> str:
        """A one-time OAuth code that the code exchange answers with `openid` (as WeChat does, once)."""
        code = f"code-{next(self._serial)}"
        with self._lock:
            self._codes[code] = {"access_token": "web-token", "expires_in": 7200, "openid": openid,
                                 "scope": "snsapi_base", **({"is_snapshotuser": 1} if snapshot else {})}
        return code

    def calls(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # -- the exam's calls: the JS-SDK ticket, and photos uploaded by the JS-SDK ------------------

    def add_media(self, media_id: str, data: bytes) -> None:
        """A photo the page "uploaded" with wx.uploadImage, served by media/get under `media_id`."""
        with self._lock:
            self.__dict__.setdefault("_media", {})[media_id] = data

    def _exam_default(self, path: str, query: dict):
        """`ticket/getticket` gives a fresh ticket; `media/get` the file given to `add_media`, else 40007."""
        if path == "cgi-bin/ticket/getticket":
            return {"errcode": 0, "errmsg": "ok", "ticket": f"fake-jsapi-ticket-{next(self._serial)}",
                    "expires_in": 7200}
        if path == "cgi-bin/media/get":
            media = self.__dict__.get("_media", {})
            if query.get("media_id") in media:
                return Raw(media[query["media_id"]])
            return {"errcode": 40007, "errmsg": "invalid media_id"}
        return None

    def _answer(self, request: Request):
        with self._lock:
            self.requests.append(request)
            queue = self._queues[request.path]
            scripted = queue.popleft() if queue else None
        if isinstance(scripted, Delay):
            time.sleep(scripted.seconds)
            scripted = scripted.body
        return scripted if scripted is not None else self._behaving(request)

    def _default(self, path: str, query: dict) -> dict:
        exam_answer = self._exam_default(path, query)
        if exam_answer is not None:
            return exam_answer
        n = next(self._serial)
        if path == "sns/oauth2/access_token" and query.get("code") in self._codes:
            with self._lock:
                return self._codes.pop(query["code"])
        if path in ("cgi-bin/token", "cgi-bin/stable_token"):
            return {"access_token": f"fake-token-{n}", "expires_in": 7200}
        if path == "cgi-bin/message/template/send":
            return {"errcode": 0, "errmsg": "ok", "msgid": 1000 + n}
        if path == "cgi-bin/qrcode/create":
            return {"ticket": f"fake-ticket-{n}", "expire_seconds": 600, "url": f"http://weixin.qq.com/q/fake{n}"}
        if path == "sns/oauth2/access_token":
            return {"errcode": 40029, "errmsg": "invalid code"}
        return {"errcode": 0, "errmsg": "ok"}

    # -- WeChat as it really behaves: template dedup by client_msg_id, 43101/43004, slow answers,
    # -- the follower list (user/get, user/info/batchget) ----------------------------------------------

    def _behaving(self, request: Request):
        if request.path == "cgi-bin/message/template/send":
            return self._template_send(request.json if isinstance(request.json, dict) else {})
        if request.path == "cgi-bin/user/get":
            return self._follower_page(request.query.get("next_openid") or "")
        if request.path == "cgi-bin/user/info/batchget":
            users = (request.json or {}).get("user_list") or []
            if len(users) > 100:
                return {"errcode": 45033, "errmsg": "user_list size exceeds limit"}
            following = set(self.followers)
            return {"user_info_list": [
                {"subscribe": 1, "openid": u["openid"], "nickname": ""} if u["openid"] in following
                else {"subscribe": 0, "openid": u["openid"]} for u in users]}
        return self._default(request.path, request.query)

    def _template_send(self, body: dict):
        openid, client_msg_id = body.get("touser"), body.get("client_msg_id")
        if openid in self.refused:
            return {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
        if openid in self.not_following:
            return {"errcode": 43004, "errmsg": "require subscribe"}
        with self._lock:
            now = time.monotonic()
            earlier = self._sent_ids.get((openid, client_msg_id)) if client_msg_id else None
            if earlier and now - earlier[1] < CLIENT_MSG_WINDOW_S:
                msgid = earlier[0]  # the same message: answered, not delivered again
            else:
                msgid = 1000 + next(self._serial)
                self.delivered.append((openid, body.get("template_id")))
                if client_msg_id:
                    self._sent_ids[(openid, client_msg_id)] = (msgid, now)
        time.sleep(self.template_delay_s)
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    def _follower_page(self, next_openid: str):
        start = self.followers.index(next_openid) + 1 if next_openid in self.followers else 0
        page = self.followers[start:start + self.follower_page_size]
        answer = {"total": len(self.followers), "count": len(page)}
        if page:
            answer.update(data={"openid": page}, next_openid=page[-1])
        else:
            answer["next_openid"] = ""
        return answer


def _handler_for(fake: FakeWeChat):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self._serve()

        def do_POST(self):
            self._serve()

        def _serve(self):
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            answer = fake._answer(Request(self.command, url.path.lstrip("/"), dict(parse_qsl(url.query)), body))
            status, payload = (answer.status, answer.body.encode()) if isinstance(answer, HttpError) else (
                200, answer.body if isinstance(answer, Raw) else json.dumps(answer, ensure_ascii=False).encode())
            content_type = answer.content_type if isinstance(answer, Raw) else "application/json; charset=utf-8"
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test): nothing to answer

        def log_message(self, format, *args):
            pass

    return Handler
