"""The staff console (教务后台, CONTRACT §9): server-rendered pages under /admin/ with htmx for
partial updates, its own login (Flask-Login) on its own cookie, CSRF on every form, and an audit
log of every change. Each view parses its input, makes one service call and renders."""
from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates",
               static_folder="static", static_url_path="/static")


def init_app(app: Flask) -> None:
    """Registers the console: its session cookie, its login manager, its pages."""
    from wxapp.admin import session
    from wxapp.admin.auth import login_manager

    session.install(app)
    login_manager.init_app(app)
    app.register_blueprint(bp)


from wxapp.admin import (  # noqa: E402,F401  (routes register on import)  # noqa: E402,F401
    at_risk,
    audit_log,
    auth,
    catalog,
    classes,
    dashboard,
    exam_review,
    exports,
    face_review,
    helpers,
    rosters,
    staff_accounts,
    trainees,
)
