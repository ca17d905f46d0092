"""Development-only stand-in for WeChat's HTTP API and the SMS gateway (never in production).

`/dev/api/...` answers the calls `services.wechat_api` makes the way WeChat does and records
them; `GET /dev/` lists what was "sent". create_app() registers this blueprint only when
WXAPP_ENV is not production, and production refuses a WECHAT_API_BASE pointing here.
"""
from flask import Blueprint, Flask

from wxapp.extensions import csrf

bp = Blueprint("sandbox", __name__, url_prefix="/dev", template_folder="templates")
# WeChat's API takes JSON from servers, not forms from browsers: there is no CSRF token to check.
csrf.exempt(bp)

from wxapp.sandbox import api, behaviour, chat, log, media, pages, phone  # noqa: E402,F401  (routes register on bp)


def install(app: Flask) -> None:
    """Registers the sandbox's pages and sends the console SMS backend's texts to its log (shown at
    /dev/). Production has no sandbox: there the console backend fails each text rather than record it."""
    app.extensions["notice_desk"].sms_recorder = log.sms_recorder(app.extensions["redis"])
    app.register_blueprint(bp)
