"""A production start behind nginx (TLS), checked from outside against the fake WeChat API (issue 9).

Starts, on loopback: a throwaway PostgreSQL database, its own redis-server, the fake WeChat API,
gunicorn with WXAPP_ENV=production (PUBLIC_BASE_URL=https://…, PROXY_COUNT=1, WECHAT_AES_KEY set)
and Debian's nginx terminating TLS with a self-signed certificate and the README's query-free log
format. Then checks: encrypted callbacks only, stale timestamps and reused nonces refused, hostile
XML 400, template messages to followers of unknown state, a late answer reaching the phone once,
43101 texted, answers within 5 s while Redis is SIGSTOPped, no query strings in the access log,
photos up to the app's limit passed through and larger ones answered by the app's 413 (never a 502).
Stops everything it started. Needs nginx, openssl, redis-server and the local PostgreSQL.

    .venv/bin/python scripts/check_behind_nginx.py [--app-port 18001] [--tls-port 18443] [--redis-port 18010]
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import urllib3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wechatpy.crypto import WeChatCrypto  # noqa: E402

from tests.fakewechat import Delay, FakeWeChat  # noqa: E402
from tests.pgtemp import create_database, drop_database  # noqa: E402
from tests.wechat_util import event_xml  # noqa: E402

AES, APPID, TOKEN, HOST = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx2c2769f8efd9abc2", "prod-token-check", "wx.check.test"
VENV = ROOT / ".venv" / "bin"
NGINX_CONF = """worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy; fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    log_format wxapp '$remote_addr - $remote_user [$time_local] "$request_method $uri $server_protocol" '
                     '$status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time';
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        server_name {host};
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
        access_log {dir}/access.log wxapp;
        client_max_body_size 17m;
        location / {{
            proxy_pass http://127.0.0.1:{app_port};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""
SEED = """
from wxapp import create_app
from tests import factories
from tests.notify_util import id_card, phone
from models import db, WechatUser
app = create_app()
factories.training_class(app, code="PROD-1")
for n in (1, 2, 3):
    factories.trainee(app, name=f"学员{n}", phone=phone(n), id_card=id_card(n), openid=f"oProd{n}", class_code="PROD-1")
with app.app_context():
    db.session.query(WechatUser).update({"subscribed": None})  # followed before the service went live
    db.session.commit()
"""
results: list[bool] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    results.append(ok)
    print(("PASS " if ok else "FAIL ") + name + (f"  [{detail}]" if detail else ""), flush=True)


class Callbacks:
    """Posts callbacks through the TLS proxy as WeChat's servers do (safe mode unless told)."""

    def __init__(self, base: str):
        self.base, self.crypto = base, WeChatCrypto(TOKEN, AES, APPID)

    def post(self, xml: str, ts: str | None = None, nonce: str | None = None, encrypt: bool = True):
        ts, nonce = ts or str(int(time.time())), nonce or secrets.token_hex(5)
        query = {"signature": hashlib.sha1("".join(sorted([TOKEN, ts, nonce])).encode()).hexdigest(),
                 "timestamp": ts, "nonce": nonce}
        body = xml
        if encrypt:
            envelope = self.crypto.encrypt_message(xml, nonce, ts)
            query.update(encrypt_type="aes", msg_signature=_between(envelope, "<MsgSignature><![CDATA[", "]]>"))
            body = f"<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[{_between(envelope, '<Encrypt><![CDATA[', ']]>')}]]></Encrypt></xml>"
        started = time.monotonic()
        response = self.raw(query, body)
        return response, time.monotonic() - started, query, body

    def raw(self, query: dict, body: str):
        return requests.post(self.base + "/wechat", params=query, data=body.encode(), verify=False, timeout=10,
                             headers={"Host": HOST})

    def reply(self, response) -> str:
        x = response.text
        return self.crypto.decrypt_message(x, _between(x, "<MsgSignature><![CDATA[", "]]>"),
                                           _between(x, "<TimeStamp>", "<"), _between(x, "<Nonce><![CDATA[", "]]>"))


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def check_callbacks(wechat: Callbacks, tls_port: int) -> None:
    r, _, _, _ = wechat.post(event_xml("oNew1", "subscribe"))
    check("encrypted subscribe answered with the binding link",
          r.status_code == 200 and f"https://{HOST}:{tls_port}/h5/bind" in wechat.reply(r))
    r, _, _, _ = wechat.post(event_xml("oProd1", "CLICK", "HELP"), encrypt=False)
    check("plaintext refused when WECHAT_AES_KEY is set", r.status_code == 403)
    r, _, _, _ = wechat.post(event_xml("oProd1", "CLICK", "HELP"), ts=str(int(time.time()) - 30 * 86400))
    check("30-day-old timestamp refused", r.status_code == 403)
    ts, nonce = str(int(time.time())), "n-reuse-1"
    first, _, query, body = wechat.post(event_xml("oProd1", "CLICK", "HELP"), ts=ts, nonce=nonce)
    again = wechat.raw(query, body)
    forged, _, _, _ = wechat.post(event_xml("oProd2", "unsubscribe"), ts=ts, nonce=nonce)
    check("same (timestamp, nonce): same body answered, another body refused",
          first.status_code == again.status_code == 200 and forged.status_code == 403,
          f"{first.status_code} {again.status_code} {forged.status_code}")
    deep = "<xml><MsgType>text</MsgType><FromUserName>o</FromUserName>" + "<a>" * 500 + "</a>" * 500 + "</xml>"
    r, _, _, _ = wechat.post(deep)
    check("500-deep XML gets 400", r.status_code == 400, str(r.status_code))
    r, _, _, _ = wechat.post("<xml><ToUserName>gh</ToUserName><FromUserName>oProd1</FromUserName><CreateTime>1"
                             "</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey><k/></EventKey></xml>")
    check("<EventKey><k/></EventKey> gets 400", r.status_code == 400, str(r.status_code))


def check_notices(fake: FakeWeChat, env: dict) -> None:
    fake.script("cgi-bin/message/template/send", Delay(2.0))  # delivered, answered after the 1 s timeout
    fake.refused.add("oProd3")
    out = subprocess.run([str(VENV / "flask"), "--app", "wsgi", "notify", "class-open", "PROD-1"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    delivered = sorted(who for who, _ in fake.delivered)
    check("notify: followers of unknown state get the template, a late answer reaches the phone once, 43101 texted",
          delivered == ["oProd1", "oProd2"] and "短信" in out.stdout,
          out.stdout.strip().replace("\n", " | ") + f" delivered={delivered}")


def check_hung_redis(wechat: Callbacks, redis_pid: int) -> None:
    os.kill(redis_pid, signal.SIGSTOP)
    try:
        r, took, _, _ = wechat.post(event_xml("oProd1", "CLICK", "MY_COURSES"))
        check("MY_COURSES answered within 5 s while Redis hangs",
              r.status_code == 200 and took < 5 and "建筑工程" in wechat.reply(r), f"{took:.2f} s")
        r, took, _, _ = wechat.post(event_xml("oNew2", "subscribe"))
        check("subscribe answered within 5 s while Redis hangs", r.status_code == 200 and took < 5, f"{took:.2f} s")
    finally:
        os.kill(redis_pid, signal.SIGCONT)


def check_body_limits(base: str) -> None:
    """Photos at the app's limit reach the app; bodies past it get the app's 413, never the proxy's 502."""
    def upload(size: int):
        files = {"photo": ("me.jpg", b"\xff\xd8" + b"0" * (size - 2), "image/jpeg")}
        return requests.post(base + "/api/exams/1/attempts", files=files, verify=False, timeout=60,
                             headers={"Host": HOST})

    statuses = [upload(size).status_code for size in (5 * 1024 * 1024, 15 * 1024 * 1024)]
    check("photos up to the app's limit reach the app (its own answer, not the proxy's 413)",
          413 not in statuses and 502 not in statuses, str(statuses))
    answers = [upload(size) for size in [16 * 1024 * 1024 + 1] + [17_000_000] * 7]
    check("a 17 MB photo gets the app's 413 (Chinese), never the proxy's 502",
          all(r.status_code == 413 and r.json().get("error") == "提交的内容过大" for r in answers),
          str([r.status_code for r in answers]))
    r = upload(40 * 1024 * 1024)
    check("a 40 MB body is refused by the proxy (413)", r.status_code == 413, str(r.status_code))


def production_env(database: str, fake: FakeWeChat, args, work: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(WXAPP_ENV="production", SECRET_KEY="s" * 40, PII_KEY="p" * 40,
               DATABASE_URL=database,
               REDIS_URL=f"redis://127.0.0.1:{args.redis_port}/0", PUBLIC_BASE_URL=f"https://{HOST}:{args.tls_port}",
               PROXY_COUNT="1", WECHAT_APPID=APPID, WECHAT_SECRET="secret", WECHAT_TOKEN=TOKEN, WECHAT_AES_KEY=AES,
               WECHAT_API_BASE=fake.base_url, WECHAT_TEMPLATE_CLASS_OPEN="tmpl-open", WECHAT_TIMEOUT_S="1",
               OUTBOX_RETRY_BASE_S="1", GUNICORN_BIND=f"127.0.0.1:{args.app_port}", GUNICORN_WORKERS="2",
               GUNICORN_ACCESS_LOG=f"{work}/gunicorn-access.log")
    return env


@contextlib.contextmanager
def services(args, work: str):
    """The fake WeChat, a database, a redis-server; yields (fake, env, redis process)."""
    fake = FakeWeChat().start()
    database = create_database("wxapp_check")
    redis = subprocess.Popen(["redis-server", "--port", str(args.redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        yield fake, production_env(database, fake, args, work), redis
    finally:
        redis.terminate()
        redis.wait(10)
        fake.stop()
        drop_database(database)


@contextlib.contextmanager
def servers(args, env: dict, work: str):
    """gunicorn behind nginx (TLS); yields the proxy's base URL once /healthz answers."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{work}/key.pem",
                    "-out", f"{work}/cert.pem", "-days", "1", "-subj", f"/CN={HOST}"], check=True, capture_output=True)
    os.chmod(work, 0o711)  # nginx's workers (nobody, under root) keep large request bodies in {work}/body
    Path(work, "nginx.conf").write_text(NGINX_CONF.format(dir=work, host=HOST, tls_port=args.tls_port,
                                                          app_port=args.app_port))
    app = subprocess.Popen([str(VENV / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], env=env, cwd=ROOT,
                           stdout=open(f"{work}/gunicorn.log", "w"), stderr=subprocess.STDOUT)
    nginx = ["nginx", "-c", f"{work}/nginx.conf", "-p", work]
    subprocess.run(nginx, check=True)
    base = f"https://127.0.0.1:{args.tls_port}"
    try:
        for _ in range(300):
            with contextlib.suppress(requests.RequestException):
                if requests.get(base + "/healthz", verify=False, timeout=2, headers={"Host": HOST}).status_code == 200:
                    break
            time.sleep(0.2)
        yield base
    finally:
        subprocess.run(nginx + ["-s", "quit"])
        app.terminate()
        app.wait(30)


def check_assets(base: str) -> None:
    """The bind page names its stylesheet by content; through the proxy that address is kept a year."""
    page = requests.get(base + "/verify/ABCDEFGHJKMN", verify=False, timeout=10, headers={"Host": HOST}).text
    found = re.search(r'href="(/static/h5\.css\?v=[0-9a-f]+)"', page)
    asset = found and requests.get(base + found.group(1), verify=False, timeout=10, headers={"Host": HOST})
    cache = asset.headers.get("Cache-Control", "") if asset else ""
    check("a page's assets are addressed by content and kept a year through the proxy",
          bool(asset) and asset.status_code == 200 and "immutable" in cache and "max-age=31536000" in cache
          and "no-cache" not in cache,
          cache or "no versioned asset on the page")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app-port", type=int, default=18001)
    parser.add_argument("--tls-port", type=int, default=18443)
    parser.add_argument("--redis-port", type=int, default=18010)
    args = parser.parse_args()
    urllib3.disable_warnings()
    with tempfile.TemporaryDirectory(prefix="wxapp-nginx-") as work, services(args, work) as (fake, env, redis):
        time.sleep(0.5)
        subprocess.run([str(VENV / "flask"), "--app", "wsgi", "db", "upgrade"], env=env, cwd=ROOT, check=True,
                       capture_output=True)
        subprocess.run([str(VENV / "python"), "-c", SEED], env=env, cwd=ROOT, check=True)
        with servers(args, env, work) as base:
            wechat = Callbacks(base)
            check_callbacks(wechat, args.tls_port)
            check_notices(fake, env)
            check_hung_redis(wechat, redis.pid)
            check_assets(base)
            check_body_limits(base)
            log = Path(work, "access.log").read_text()
            check("nginx access log holds no query strings", "/wechat" in log and "signature" not in log)
    print(f"{sum(results)}/{len(results)} checks passed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
