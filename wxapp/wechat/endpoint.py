"""The callback: verify → decrypt → parse → dedup → dispatch → render → encrypt.

WeChat's servers are its only caller: no cookie, no form, no browser. So `/wechat` is answered
in front of Flask's request machinery, inside an app context (`db.session` and `current_app`
work as anywhere), but without the session, CSRF and rate-limit hooks every page needs: on a
menu click those cost more than the answer itself (bench/callback.py). Nothing here waits on
the network beyond Redis and the database: every answer leaves well within WeChat's 5 s, Redis
through its own time-budgeted client (budget.py), the database within DATABASE_S in all
(wxapp/db_budget.py); without it the chat still gets what needs no database (handlers.unavailable).

Before any effect: a timestamp within 300 s of the clock, the body the (timestamp, nonce) first
came with (replay.py), and, with WECHAT_AES_KEY set, an encrypted callback only.
"""
from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from urllib.parse import parse_qsl

import redis as redis_lib
from flask import Flask, current_app, g
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.wsgi import get_input_stream

import handlers
from services import keys, overview
from services.identity import followers
from services.identity.pii import short_openid
from wxapp import config, db_budget
from wxapp.extensions import db, read_only_session
from wxapp.logs import kv
from wxapp.wechat import budget, dedup, replay
from wxapp.wechat.render import render
from wxapp.wechat.security import BadPayload, BadSignature, Cryptor, parse_fields, screen, signature_ok, to_message

log = logging.getLogger(__name__)

PATH = "/wechat"
# All the callback's waits on the database end within this many seconds of its start: with Redis's
# budget (one 0.5 s wait at most) the answer leaves well within WeChat's 5 s.
DATABASE_S = 3.0
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)
NO_REPLY = "success"
TEXT, XML = "text/plain; charset=utf-8", "application/xml; charset=utf-8"
WsgiApp = Callable[[dict, Callable], Iterable[bytes]]
# Events WeChat itself sends about the account's messages, not a user's doing.
NOT_FROM_USER = frozenset({"unsubscribe", "templatesendjobfinish", "masssendjobfinish"})
PLAINTEXT_REFUSED = ("WECHAT_AES_KEY is set, so only encrypted callbacks (encrypt_type=aes with msg_signature) "
                     "are accepted: set 消息加解密方式 to 安全模式 or 兼容模式 in WeChat's console")


class CallbackEndpoint:
    """WSGI middleware: answers `PATH` itself and hands every other request to `wsgi_app`."""

    def __init__(self, app: Flask, wsgi_app: WsgiApp):
        self.app, self.wsgi_app = app, wsgi_app
        settings = config.of(app)
        self.token, self.max_body = settings.wechat_token, settings.wechat_max_body
        aes_keys = [k for k in (settings.wechat_aes_key, settings.wechat_aes_key_previous) if k]
        self.cryptor = Cryptor(settings.wechat_token, settings.wechat_appid, aes_keys) if aes_keys else None
        self.redis_clients = budget.ThreadClients(settings.redis_url)
        self.clock: Callable[[], float] = time.time  # tests replay old, signed vectors

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return self.wsgi_app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        # The database's time is bounded too, teardown included: an answer goes out within
        # WeChat's 5 s even when PostgreSQL hangs (wxapp/db_budget.py).
        with db_budget.limit(DATABASE_S), self.app.app_context():
            try:
                status, content_type, body = self.respond(environ, method)
            except Exception:
                # Transport trouble (not a handler's: those answer `success`): WeChat may retry.
                log.exception(kv("wechat_callback_error", method=method))
                status, content_type, body = 500, TEXT, "error"
        data = body.encode()
        headers = [("Content-Type", content_type), ("Content-Length", str(len(data)))]
        if status == 405:
            headers.append(("Allow", "GET, POST"))
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [data]

    def respond(self, environ: dict, method: str) -> tuple[int, str, str]:
        """(status, content type, body) for one request."""
        if method not in ("GET", "POST"):
            return 405, TEXT, "method not allowed"
        args = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        if not self._query_ok(args, method):
            return 403, TEXT, "forbidden"
        if method == "GET":
            return 200, TEXT, args.get("echostr", "")
        encrypted = args.get("encrypt_type", "raw").lower() == "aes"
        if self.cryptor is not None and not encrypted:
            log.warning(kv("wechat_plaintext_refused", reason=PLAINTEXT_REFUSED))
            return 403, TEXT, "forbidden"
        raw = get_input_stream(environ).read(self.max_body + 1)
        try:
            fields = self._fields(raw, args, encrypted)
            message = to_message(fields)
        except BadSignature:
            log.warning(kv("wechat_bad_signature", method=method, part="msg_signature"))
            return 403, TEXT, "forbidden"
        except BadPayload as exc:
            log.warning(kv("wechat_bad_payload", reason=str(exc)))
            return 400, TEXT, "bad request"

        redis = g.callback_redis = budget.BudgetRedis(self.redis_clients.get)
        user_act = getattr(message, "event", "").lower() not in NOT_FROM_USER
        rule = handlers.router.match(message)
        # A read-only answer (a menu click) reads the sender's cached overview: fetched with the
        # replay check, a click costs Redis one round trip.
        prefetch = overview.cache_keys(message.source) if user_act and rule is not None and rule.pure else ()
        checked = replay.check(redis, args["timestamp"], args["nonce"], raw, message.source if user_act else None,
                               prefetch)
        if not checked.same_body:
            log.warning(kv("wechat_nonce_reused", method=method))
            return 403, TEXT, "forbidden"
        # Recording a follow may change the overview's version: then the prefetched stamp is stale.
        cached = None if checked.note_follow else checked.prefetched
        reply_xml = _deliver(rule, message, fields, redis, checked.note_follow, cached)
        if not reply_xml:
            return 200, TEXT, NO_REPLY
        if encrypted and self.cryptor is not None:  # an encrypted request found a cryptor (_fields)
            reply_xml = self.cryptor.encrypt(reply_xml, args["nonce"], args["timestamp"])
        return 200, XML, reply_xml

    def _query_ok(self, args: dict[str, str], method: str) -> bool:
        """The query's signature and timestamp; a refusal is logged."""
        if not signature_ok(self.token, args.get("signature"), args.get("timestamp"), args.get("nonce")):
            # Every callback refused at once is the classic set-up mistake: a WECHAT_TOKEN that
            # differs from the one in WeChat's console.
            log.warning(kv("wechat_bad_signature", method=method))
            return False
        if not replay.fresh(args["timestamp"], self.clock()):
            log.warning(kv("wechat_stale_timestamp", method=method, skew_s=_skew(args["timestamp"], self.clock())))
            return False
        return True

    def _fields(self, raw: bytes, args: dict[str, str], encrypted: bool) -> dict:
        """The message's fields, decrypted when it came encrypted; BadPayload or BadSignature else."""
        xml = screen(raw, self.max_body)
        if encrypted:
            if self.cryptor is None:
                raise BadPayload("encrypted callback but no WECHAT_AES_KEY configured")
            xml = screen(self.cryptor.decrypt(xml, args.get("msg_signature", ""), args["timestamp"],
                                              args["nonce"]), self.max_body)
        return parse_fields(xml)


def _skew(timestamp: str, now: float) -> str:
    return str(int(int(timestamp) - now)) if timestamp.lstrip("-").isdigit() else "not a number"


def _deliver(rule, message, fields: dict, redis: budget.BudgetRedis, note_follow: bool,
             overview_cache: list | None) -> str:
    """The reply XML ('' for none); `note_follow`: record that the sender follows."""
    if rule is None or rule.pure:
        session = read_only_session()
        try:
            if note_follow:
                _note_follow(session, message.source, redis)
            if rule is None:
                log.info(kv("wechat_message", openid=short_openid(message.source), type=message.type,
                            event=getattr(message, "event", ""), replied=False))
                return ""
            return _answer(rule, message, session, redis, overview_cache)
        finally:
            session.remove()
    # A repeatable rule's effect is harmless twice: no dedup's two round trips (a push's 20,000 reports).
    key = None if rule.repeatable else dedup.delivery_key(fields)
    if key is not None:
        first, stored = dedup.claim(redis, key)
        if not first:
            log.info(kv("wechat_retry", openid=short_openid(message.source), type=message.type))
            return stored.decode() if stored else ""
    if note_follow:
        _note_follow(db.session, message.source, redis)
    reply_xml = _answer(rule, message, db.session, redis)
    if key is not None:
        dedup.remember(redis, key, reply_xml.encode())
    return reply_xml


def _note_follow(session, openid: str, redis: budget.BudgetRedis) -> None:
    """Records that `openid` follows, committed whatever the handler then does; a failure here
    costs the record, never the answer, and the sender's next message tries again."""
    try:
        followers.note_activity(session, openid)
    except SQLAlchemyError as exc:
        log.warning(kv("wechat_follow_unrecorded", openid=short_openid(openid), error=type(exc).__name__))
        with contextlib.suppress(redis_lib.RedisError):
            redis.delete(keys.follow_seen(openid))


def _answer(rule, message, session, redis: budget.BudgetRedis, overview_cache: list | None = None) -> str:
    ctx = handlers.Context(
        openid=message.source, session=session, redis=redis,  # type: ignore[arg-type]
        links=current_app.extensions["links"], contact=config.current().school_contact,
        overview_cache=overview_cache,
    )
    event = getattr(message, "event", "")
    # A handler's effects commit in the services it calls (services/db.transaction(), which rolls
    # back what fails); whatever a failed handler left open is rolled back when the session is
    # removed, at the end of the callback's app context (or of _deliver, for a read-only answer).
    try:
        reply_xml = render(rule.handler(message, ctx), message)
    except DATABASE_DOWN as exc:
        # What can be said without the database: the welcome, the school's contact line.
        log.warning(kv("wechat_database_unavailable", openid=short_openid(message.source), type=message.type,
                       event=event, error=type(exc).__name__))
        return render(handlers.unavailable(message, ctx), message)
    except Exception:
        # Answer "success" anyway: a 500 would make WeChat retry into the same error.
        log.exception(kv("wechat_handler_error", openid=short_openid(message.source),
                         type=message.type, event=event))
        return ""
    log.info(kv("wechat_message", openid=short_openid(message.source), type=message.type,
                event=event, key=getattr(message, "key", None), replied=bool(reply_xml)))
    return reply_xml
