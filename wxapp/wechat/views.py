"""The callback: verify → decrypt → parse → dedup → dispatch → render → encrypt.

Nothing here waits on the network: every answer leaves well within WeChat's 5 s.
"""
from __future__ import annotations

import logging

from flask import Response, abort, current_app, request

import handlers
from services.pii import short_openid
from wxapp.extensions import csrf, db, limiter, read_only_session, redis_client
from wxapp.logs import kv
from wxapp.wechat import bp, dedup
from wxapp.wechat.render import render
from wxapp.wechat.security import BadPayload, BadSignature, Cryptor, parse_fields, screen, signature_ok, to_message

log = logging.getLogger(__name__)
NO_REPLY = "success"


# WeChat's servers call from a handful of addresses: a per-address limit would throttle every
# trainee at once. Exempt, which also skips the limiter's per-request work.
limiter.exempt(bp)


@bp.record_once
def _build_cryptor(state) -> None:
    cfg = state.app.config
    keys = [k for k in (cfg["WECHAT_AES_KEY"], cfg["WECHAT_AES_KEY_PREVIOUS"]) if k]
    state.app.extensions["wechat_cryptor"] = (
        Cryptor(cfg["WECHAT_TOKEN"], cfg["WECHAT_APPID"], keys) if keys else None
    )


def _text(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain")


def _check_signature() -> None:
    args = request.args
    if not signature_ok(current_app.config["WECHAT_TOKEN"], args.get("signature"),
                        args.get("timestamp"), args.get("nonce")):
        abort(403)


@bp.get("/wechat")
def verify():
    _check_signature()
    return _text(request.args.get("echostr", ""))


@bp.post("/wechat")
@csrf.exempt
def receive():
    _check_signature()
    args = request.args
    encrypted = args.get("encrypt_type", "raw").lower() == "aes"
    cryptor: Cryptor | None = current_app.extensions["wechat_cryptor"]
    try:
        xml = screen(request.get_data(cache=False), current_app.config["WECHAT_MAX_BODY"])
        if encrypted:
            if cryptor is None:
                raise BadPayload("encrypted callback but no WECHAT_AES_KEY configured")
            xml = screen(cryptor.decrypt(xml, args.get("msg_signature", ""), args["timestamp"], args["nonce"]),
                         current_app.config["WECHAT_MAX_BODY"])
        fields = parse_fields(xml)
        message = to_message(fields)
    except BadSignature:
        abort(403)
    except BadPayload as exc:
        log.warning(kv("wechat_bad_payload", reason=str(exc)))
        abort(400)

    reply_xml = _deliver(message, fields)
    if not reply_xml:
        return _text(NO_REPLY)
    if encrypted:
        reply_xml = cryptor.encrypt(reply_xml, args["nonce"], args["timestamp"])
    return Response(reply_xml, mimetype="application/xml")


def _deliver(message, fields: dict) -> str:
    rule = handlers.router.match(message)
    if rule is None:
        log.info(kv("wechat_message", openid=short_openid(message.source), type=message.type,
                    event=getattr(message, "event", ""), replied=False))
        return ""
    if rule.pure:
        return _run(rule, message)
    redis = redis_client()
    key = dedup.delivery_key(fields)
    first, stored = dedup.claim(redis, key)
    if not first:
        log.info(kv("wechat_retry", openid=short_openid(message.source), type=message.type))
        return stored.decode() if stored else ""
    reply_xml = _run(rule, message)
    dedup.remember(redis, key, reply_xml.encode())
    return reply_xml


def _run(rule, message) -> str:
    if not rule.pure:
        return _answer(rule, message, db.session)
    with read_only_session() as session:
        return _answer(rule, message, session)


def _answer(rule, message, session) -> str:
    ctx = handlers.Context(
        openid=message.source, session=session, redis=redis_client(),
        public_base_url=current_app.config["PUBLIC_BASE_URL"], contact=current_app.config["SCHOOL_CONTACT"],
    )
    event = getattr(message, "event", "")
    try:
        reply_xml = render(rule.handler(message, ctx), message)
    except Exception:
        # Answer "success" anyway: a 500 would make WeChat retry into the same error.
        session.rollback()
        log.exception(kv("wechat_handler_error", openid=short_openid(message.source),
                         type=message.type, event=event))
        return ""
    log.info(kv("wechat_message", openid=short_openid(message.source), type=message.type,
                event=event, key=getattr(message, "key", None), replied=bool(reply_xml)))
    return reply_xml
