"""The rehearsal's WeChat and SMS stand-ins: one asyncio process, two ports.

WeChat (`WECHAT_API_BASE`): tokens, the OAuth code exchange (a code `code-<openid>-<anything>`
answers that OpenID, once), JS-SDK tickets, and template sends answered after LATENCY_S. Template
sends are counted per (openid, client_msg_id) as WeChat delivers them: one delivery per pair within
CLIENT_MSG_WINDOW_S, a resend answered with the first msgid and not delivered again. OpenIDs in
`refused` answer 43101 (the app then texts them). Each delivered message is followed, PUSH_DELAY_S
later, by a TEMPLATESENDJOBFINISH event posted to the app's `/wechat`, signed (and encrypted when an
AES key is given) as WeChat's servers do, over a few keep-alive connections.

SMS (`SMS_ENDPOINT`, the Aliyun backend): `SendSms` answers OK and counts (phone, OutId);
`QuerySendDetails` lists what was sent.

`GET /_stats` on the WeChat port answers the counts as JSON. Run:
`python -m bench.rehearsal.standin CONFIG.json` prints `PORTS <wechat> <sms>` once listening.
"""
from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import secrets
import ssl
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

LATENCY_S = 0.05
CLIENT_MSG_WINDOW_S = 600
PUSH_DELAY_S = 1.0
PUSH_CONNECTIONS = 4


# -- signing callbacks as WeChat does (also used by the locustfile's followers) ------------------

def signature(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def signed_callback(xml: str, token: str, aes_key: str | None, appid: str,
                    timestamp: str | None = None, nonce: str | None = None) -> tuple[str, str]:
    """(query string, body) of a callback POST to /wechat, encrypted (安全模式) when `aes_key` is set."""
    timestamp, nonce = timestamp or str(int(time.time())), nonce or secrets.token_hex(5)
    query = {"signature": signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    body = xml
    if aes_key:
        from wechatpy.crypto import WeChatCrypto

        envelope = WeChatCrypto(token, aes_key, appid).encrypt_message(xml, nonce, timestamp)
        encrypted = _between(envelope, "<Encrypt><![CDATA[", "]]>")
        query.update(encrypt_type="aes", msg_signature=_between(envelope, "<MsgSignature><![CDATA[", "]]>"))
        body = f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    return urlencode(query), body


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def job_finish_xml(openid: str, msgid: int, status: str = "success") -> str:
    return (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{msgid}</MsgID>"
            f"<Status><![CDATA[{status}]]></Status></xml>")


# -- what WeChat and the SMS provider answer, and the counts ---------------------------------------

@dataclass
class Ledger:
    """Template deliveries and texts as the phones would see them; no I/O, so tests drive it directly."""

    refused: set = field(default_factory=set)
    window_s: float = CLIENT_MSG_WINDOW_S
    template_requests: int = 0
    resends_absorbed: int = 0                                # same (openid, client_msg_id) within the window
    deliveries: Counter = field(default_factory=Counter)     # (openid, template_id) -> messages on the phone
    delivered_at: dict = field(default_factory=dict)         # (openid, template_id) -> first delivery (epoch s)
    _sent: dict = field(default_factory=dict)                # (openid, client_msg_id) -> (msgid, when)
    texts: Counter = field(default_factory=Counter)          # (phone, template) -> texts
    text_refs: dict = field(default_factory=lambda: defaultdict(list))  # phone -> OutIds
    codes_used: set = field(default_factory=set)
    _serial: itertools.count = field(default_factory=lambda: itertools.count(1000))

    def template_send(self, body: dict, now: float) -> tuple[dict, bool]:
        """(WeChat's answer, whether a message reached the phone)."""
        self.template_requests += 1
        openid, client_msg_id = str(body.get("touser") or ""), body.get("client_msg_id")
        if openid in self.refused:
            return {"errcode": 43101, "errmsg": "user refuse to accept the msg"}, False
        if client_msg_id:
            earlier = self._sent.get((openid, client_msg_id))
            if earlier and now - earlier[1] < self.window_s:
                self.resends_absorbed += 1
                return {"errcode": 0, "errmsg": "ok", "msgid": earlier[0]}, False
        msgid = next(self._serial)
        if client_msg_id:
            self._sent[(openid, client_msg_id)] = (msgid, now)
        key = (openid, str(body.get("template_id")))
        self.deliveries[key] += 1
        self.delivered_at.setdefault(key, time.time())
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}, True

    def oauth(self, code: str) -> dict:
        if not code.startswith("code-") or code in self.codes_used:
            return {"errcode": 40029, "errmsg": "invalid code"}
        self.codes_used.add(code)
        openid = code[5:].rsplit("-", 1)[0]
        return {"access_token": "web-token", "expires_in": 7200, "openid": openid, "scope": "snsapi_base"}

    def send_sms(self, params: dict) -> dict:
        phone, ref = params.get("PhoneNumbers", ""), params.get("OutId", "")
        self.texts[(phone, params.get("TemplateCode", ""))] += 1
        self.text_refs[phone].append(ref)
        return {"Code": "OK", "Message": "OK", "BizId": f"biz{next(self._serial)}", "RequestId": secrets.token_hex(8)}

    def query_sms(self, params: dict) -> dict:
        phone = params.get("PhoneNumber", "")
        dtos = [{"OutId": ref, "PhoneNum": phone, "SendStatus": 3} for ref in self.text_refs.get(phone, [])]
        return {"Code": "OK", "Message": "OK", "TotalCount": str(len(dtos)),
                "SmsSendDetailDTOs": {"SmsSendDetailDTO": dtos}}

    def stats(self) -> dict:
        firsts = sorted(self.delivered_at.values())
        return {
            "template_requests": self.template_requests,
            "resends_absorbed": self.resends_absorbed,
            "delivered_messages": sum(self.deliveries.values()),
            "delivered_openids": len({openid for openid, _ in self.deliveries}),
            "duplicates": sum(n - 1 for n in self.deliveries.values() if n > 1),
            "first_delivery": firsts[0] if firsts else None,
            "last_delivery": firsts[-1] if firsts else None,
            "delivery_times": firsts,
            "delivered": sorted(openid for openid, _ in self.deliveries),
            "texts": sum(self.texts.values()),
            "texted_phones": len({phone for phone, _ in self.texts}),
            "text_duplicates": sum(n - 1 for n in self.texts.values() if n > 1),
            "oauth_codes": len(self.codes_used),
            "templates": _by_kind(self.deliveries),   # template_id -> openids reached, duplicates
            "text_templates": _by_kind(self.texts),   # SMS template code -> phones reached, duplicates
        }


def _by_kind(counts: Counter) -> dict:
    kinds: dict = {}
    for (_, kind), n in counts.items():
        entry = kinds.setdefault(kind, {"reached": 0, "duplicates": 0})
        entry["reached"] += 1
        entry["duplicates"] += n - 1
    return kinds


# -- the HTTP side ----------------------------------------------------------------------------------

async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict, bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    method, target = head[0].split(" ")[:2]
    headers = {}
    for line in head[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    body = await reader.readexactly(length) if length else b""
    return method, target, headers, body


def _response(status: int, body: dict) -> bytes:
    payload = json.dumps(body, ensure_ascii=False).encode()
    return (b"HTTP/1.1 %d OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s"
            % (status, len(payload), payload))


class StandIn:
    def __init__(self, config: dict):
        self.config = config
        self.ledger = Ledger(refused=set(config.get("refused") or []))
        self.pushes: asyncio.Queue = asyncio.Queue()
        self.push_ok = 0
        self.push_failed = 0

    async def wechat(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                method, target, _, raw = await _read_request(reader)
                url = urlsplit(target)
                path, query = url.path.lstrip("/"), dict(parse_qsl(url.query))
                if path == "_stats":
                    answer = {**self.ledger.stats(), "push_ok": self.push_ok, "push_failed": self.push_failed,
                              "push_queue": self.pushes.qsize()}
                    if query.get("brief"):
                        answer.pop("delivery_times")
                        answer.pop("delivered")
                else:
                    await asyncio.sleep(LATENCY_S)
                    answer = self._wechat_answer(path, query, raw)
                writer.write(_response(200, answer))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    def _wechat_answer(self, path: str, query: dict, raw: bytes) -> dict:
        if path in ("cgi-bin/token", "cgi-bin/stable_token"):
            return {"access_token": "bench-access-token", "expires_in": 7200}
        if path == "sns/oauth2/access_token":
            return self.ledger.oauth(query.get("code", ""))
        if path == "cgi-bin/ticket/getticket":
            return {"errcode": 0, "errmsg": "ok", "ticket": "bench-jsapi-ticket", "expires_in": 7200}
        if path == "cgi-bin/message/template/send":
            body = json.loads(raw or b"{}")
            answer, delivered = self.ledger.template_send(body, time.monotonic())
            if delivered and self.config.get("callback_url"):
                self.pushes.put_nowait((time.monotonic() + PUSH_DELAY_S, str(body.get("touser")), answer["msgid"]))
            return answer
        if path == "cgi-bin/user/get":
            return {"total": 0, "count": 0, "next_openid": ""}
        return {"errcode": 0, "errmsg": "ok"}

    async def sms(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                method, target, headers, raw = await _read_request(reader)
                params = dict(parse_qsl(urlsplit(target).query))
                if raw and "json" not in headers.get("content-type", ""):
                    params.update(parse_qsl(raw.decode("utf-8", "replace")))
                action = params.get("Action") or headers.get("x-acs-action", "")
                answer = self.ledger.query_sms(params) if action == "QuerySendDetails" else self.ledger.send_sms(params)
                writer.write(_response(200, answer))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def pusher(self) -> None:
        """Posts TEMPLATESENDJOBFINISH to the app over one keep-alive TLS connection, reopened when lost."""
        url = urlsplit(self.config["callback_url"])
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn = None
        while True:
            due, openid, msgid = await self.pushes.get()
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            query, body = signed_callback(job_finish_xml(openid, msgid), self.config["token"],
                                          self.config.get("aes_key"), self.config["appid"])
            payload = body.encode()
            request = (f"POST {url.path}?{query} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: text/xml\r\n"
                       f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
            for _ in range(3):
                try:
                    if conn is None:
                        conn = await asyncio.open_connection(url.hostname, url.port, ssl=context)
                    conn[1].write(request)
                    await conn[1].drain()
                    status = int((await conn[0].readuntil(b"\r\n")).split(b" ")[1])
                    head = (await conn[0].readuntil(b"\r\n\r\n")).decode("latin-1").lower()
                    length = int(head.split("content-length:", 1)[1].split("\r\n", 1)[0]) \
                        if "content-length:" in head else 0
                    await conn[0].readexactly(length)
                    if "connection: close" in head:
                        conn[1].close()
                        conn = None
                    if status == 200:
                        self.push_ok += 1
                    else:
                        self.push_failed += 1
                    break
                except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                    if conn is not None:
                        conn[1].close()
                    conn = None
                    await asyncio.sleep(0.5)
            else:
                self.push_failed += 1


async def serve(config: dict) -> None:
    stand_in = StandIn(config)
    wechat = await asyncio.start_server(stand_in.wechat, "127.0.0.1", config.get("wechat_port", 0), backlog=2048)
    sms = await asyncio.start_server(stand_in.sms, "127.0.0.1", config.get("sms_port", 0), backlog=256)
    print(f"PORTS {wechat.sockets[0].getsockname()[1]} {sms.sockets[0].getsockname()[1]}", flush=True)
    tasks = [asyncio.create_task(stand_in.pusher()) for _ in range(PUSH_CONNECTIONS if config.get("callback_url") else 0)]
    async with wechat, sms:
        await asyncio.gather(wechat.serve_forever(), sms.serve_forever(), *tasks)


def configure(path: str, **updates) -> None:
    """Merges `updates` into the stand-in's config file (read again at start)."""
    with open(path) as f:
        config = json.load(f)
    config.update(updates)
    with open(path, "w") as f:
        json.dump(config, f)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        asyncio.run(serve(json.load(f)))
