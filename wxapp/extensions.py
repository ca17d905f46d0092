"""Extension instances, unbound; create_app() binds them with init_app.

Clients that are not Flask extensions (Redis, the WeChat API client, the PII cipher) are
built once per app and kept in `app.extensions`; reach them through the accessors below.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

import redis
from flask import Flask, current_app, g, has_app_context
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_wtf import CSRFProtect
from sqlalchemy.orm import scoped_session, sessionmaker

from models import db
from services import keys, overview
from services.identity.pii import PiiCipher
from services.links import Links
from services.notices.desk import NoticeDesk
from services.study.player import Player, close_page
from services.wechat_api import WeChatApi
from wxapp import config, db_budget

migrate = Migrate()
csrf = CSRFProtect()
# Generic per-route limits, counted in Redis so that every worker shares them; no default limit:
# routes opt in. Business lockouts (wrong binding tries) live in services.
limiter = Limiter(key_func=get_remote_address, default_limits=[], strategy="fixed-window")

__all__ = ["db", "migrate", "csrf", "limiter", "init_clients", "redis_client", "wechat_api", "pii", "read_only_session",
           "links", "notice_desk", "player", "exam_tools", "face_gate", "face_tools"]


def init_clients(app: Flask) -> None:
    settings = config.of(app)
    keys.use_prefix(settings.redis_key_prefix)
    app.extensions["redis"] = redis.Redis.from_url(
        settings.redis_url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
    )
    app.extensions["pii"] = PiiCipher(settings.pii_key)
    app.extensions["wechat_api"] = WeChatApi(
        appid=settings.wechat_appid,
        secret=settings.wechat_secret,
        api_base=settings.wechat_api_base,
        redis=app.extensions["redis"],
        timeout=settings.wechat_timeout_s,
    )
    app.extensions["links"] = config.links(settings.public_base_url)
    app.extensions["notice_desk"] = NoticeDesk(
        config.notice_settings(settings), db.session, app.extensions["wechat_api"], app.extensions["redis"])
    app.extensions["play_settings"] = config.play_settings(settings)
    overview.track_changes(_redis_if_app)
    init_exam(app)
    with app.app_context():
        db_budget.install(app, db.engine)


def _redis_if_app() -> redis.Redis | None:
    if not has_app_context():
        return None
    # A WeChat callback has its own time-budgeted Redis (wxapp/wechat/budget.py).
    return g.get("callback_redis") or current_app.extensions["redis"]


def redis_client() -> redis.Redis:
    return current_app.extensions["redis"]


def page_closer() -> Callable[[int], bool]:
    """What stops a trainee's open player page (the player's `close_page` on the shared Redis),
    for the staff actions of identity that must, which sit below the player."""
    return functools.partial(close_page, redis_client())


def wechat_api() -> WeChatApi:
    return current_app.extensions["wechat_api"]


def pii() -> PiiCipher:
    return current_app.extensions["pii"]


def read_only_session() -> scoped_session:
    """The session of answers that only read: autocommit, so no BEGIN/ROLLBACK round trips.

    One per thread, made on first use (an answer served from Redis never makes one); call
    `.remove()` when the answer is done.
    """
    sessions = current_app.extensions.get("read_only_sessions")
    if sessions is None:
        engine = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        sessions = current_app.extensions["read_only_sessions"] = scoped_session(sessionmaker(engine))
    return sessions


def links() -> Links:
    """The addresses of the app's pages that services put into notices, QR codes and certificates."""
    return current_app.extensions["links"]


def notice_desk() -> NoticeDesk:
    """Notices and the outbox: templates, SMS backend and dispatchers over this app's clients."""
    return current_app.extensions["notice_desk"]


def player() -> Player:
    """Player pages, heartbeats and attendance checks over this app's Redis and database session."""
    return Player(current_app.extensions["redis"], db.session, current_app.extensions["play_settings"])


def init_exam(app: Flask) -> None:
    """The photo store, built once per app from STORAGE_URL (the rules were checked in config)."""
    from services import storage
    from services.exam.faces.gate import FaceGate

    settings = config.of(app)
    app.extensions["photo_storage"] = storage.from_url(settings.storage_url)
    app.extensions["face_gate"] = FaceGate.build(config.face_settings(settings), warm=not settings.testing)
    app.extensions["exam_tools"] = exam_tools  # for the scheduler's jobs, which don't import wxapp
    app.extensions["face_tools"] = face_tools


def exam_tools():
    """The exam's services over this app's session, photo store, rules and notice templates."""
    from services.exam.grading import ExamTools

    return ExamTools(session=db.session, storage=current_app.extensions["photo_storage"],
                     rules=config.current().exam_rules, templates=lambda: notice_desk().templates,
                     exam_url=links().exam, faces=current_app.extensions["face_gate"])


def face_gate():
    """Face comparison's consent and one-face rule, and its settings (`.settings`, `.enabled`)."""
    return current_app.extensions["face_gate"]


def face_tools():
    """The background face analysis over this app's session, photo store and PII_KEY; the engine
    and the index of every embedding are built once per process (the scheduler's, a CLI run)."""
    from services.exam.faces.analysis import FaceTools
    from services.exam.faces.engine import FaceEngine
    from services.exam.faces.index import FaceIndex
    from services.exam.faces.vault import FaceVault

    gate = face_gate()
    built = current_app.extensions.get("face_parts")
    if built is None:
        parts = (gate.engine or FaceEngine(), FaceVault(config.current().pii_key), FaceIndex())
        built = current_app.extensions["face_parts"] = parts
    engine, vault, index = built
    return FaceTools(session=db.session, storage=current_app.extensions["photo_storage"], engine=engine, vault=vault,
                     index=index, settings=gate.settings)
