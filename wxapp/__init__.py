"""The Flask application: create_app() reads like the list of what the service is made of."""
from __future__ import annotations

import os
import sys

from flask import Flask

from wxapp import config
from wxapp.config import ConfigError, load_settings


def create_app(test_config: dict[str, str] | None = None) -> Flask:
    """Build the app. `test_config` holds environment-style settings that win over os.environ."""
    environ = {**os.environ, **(test_config or {})}
    app = Flask(__name__, instance_path=environ.get("WXAPP_INSTANCE") or None)
    configure(app, environ)
    configure_logging(app)
    register_security(app)
    register_extensions(app)
    register_blueprints(app)
    register_admin(app)
    mount_callback(app)
    mount_heartbeat(app)
    register_metrics(app)
    register_error_handlers(app)
    register_commands(app)
    return app


def configure(app: Flask, environ: dict[str, str]) -> None:
    """The settings, checked once and kept typed in `app.extensions["settings"]` (`wxapp.config.current()`);
    `app.config` gets what Flask and its extensions read."""
    try:
        settings = load_settings(app.instance_path, environ)
    except ConfigError as exc:
        # One clear line, no traceback: this is an operator's mistake, not a bug.
        print(f"wxapp: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    app.extensions["settings"] = settings
    app.config.update(config.flask_config(settings))


def configure_logging(app: Flask) -> None:
    import logging

    from wxapp.logs import setup_logging

    setup_logging(app)
    for line in config.startup_warnings(config.of(app)):
        logging.getLogger("wxapp").warning("config_warning %s", line)


def register_security(app: Flask) -> None:
    """Security headers, same-site redirects, bounded URL integers (before any route exists), and the
    guard that refuses malformed input on every route."""
    from wxapp import request_guard, security

    security.register(app)
    request_guard.register(app)


def register_extensions(app: Flask) -> None:
    from wxapp.extensions import csrf, db, init_clients, limiter, migrate

    count = config.of(app).proxy_count
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The Host is never taken from a client's X-Forwarded-Host: links use PUBLIC_BASE_URL.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=0)
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    init_clients(app)
    register_template_helpers(app)


def register_template_helpers(app: Flask) -> None:
    from werkzeug.local import LocalProxy

    from services.study.learning import hours_text
    from wxapp.assets import install as install_assets

    app.add_template_filter(hours_text, "hours")
    # The typed settings in every template, imported macros included: `settings.school_phone`.
    app.jinja_env.globals["settings"] = LocalProxy(config.current)
    install_assets(app)  # url_for('static', …) names each file by its content


def register_blueprints(app: Flask) -> None:
    from wxapp.api import bp as api_bp
    from wxapp.h5 import bp as h5_bp
    from wxapp.health import bp as health_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(h5_bp)
    app.register_blueprint(api_bp)
    register_completion_blueprints(app)
    if not config.of(app).production:
        from wxapp.sandbox import install

        install(app)


def register_completion_blueprints(app: Flask) -> None:
    """Completion (CONTRACT §8): the public certificate verification page (the H5 pages live in wxapp.h5)."""
    from wxapp.verify import bp as verify_bp

    app.register_blueprint(verify_bp)


def mount_callback(app: Flask) -> None:
    from wxapp.wechat import mount

    mount(app)


def mount_heartbeat(app: Flask) -> None:
    """The player's heartbeat, most of a term's traffic, answered in front of Flask (wxapp/api/heartbeat.py)."""
    from wxapp.api.heartbeat import mount

    mount(app)


def register_metrics(app: Flask) -> None:
    """Timings of every request, the callback's included (so installed after it), and GET /metrics."""
    from wxapp.metrics import install

    install(app)


def register_error_handlers(app: Flask) -> None:
    from wxapp.errors import register

    register(app)


def register_commands(app: Flask) -> None:
    from wxapp.cli import register

    register(app)


def register_admin(app: Flask) -> None:
    """The staff console: its own session cookie, Flask-Login, its pages under /admin/."""
    from wxapp.admin import init_app

    init_app(app)
