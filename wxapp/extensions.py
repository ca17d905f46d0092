"""Extension instances, unbound; create_app() binds them with init_app.

Clients that are not Flask extensions (Redis, the WeChat API client, the PII cipher) are
built once per app and kept in `app.extensions`; reach them through the accessors below.
"""
from __future__ import annotations

import redis
from flask import Flask, current_app
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

from models import db
from services.pii import PiiCipher
from services.wechat_api import WeChatApi

migrate = Migrate()
csrf = CSRFProtect()

__all__ = ["db", "migrate", "csrf", "init_clients", "redis_client", "wechat_api", "pii"]


def init_clients(app: Flask) -> None:
    app.extensions["redis"] = redis.Redis.from_url(
        app.config["REDIS_URL"], socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
    )
    app.extensions["pii"] = PiiCipher(app.config["PII_KEY"])
    app.extensions["wechat_api"] = WeChatApi(
        appid=app.config["WECHAT_APPID"],
        secret=app.config["WECHAT_SECRET"],
        api_base=app.config["WECHAT_API_BASE"],
        redis=app.extensions["redis"],
        timeout=app.config["WECHAT_TIMEOUT_S"],
    )


def redis_client() -> redis.Redis:
    return current_app.extensions["redis"]


def wechat_api() -> WeChatApi:
    return current_app.extensions["wechat_api"]


def pii() -> PiiCipher:
    return current_app.extensions["pii"]
