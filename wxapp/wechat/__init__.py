"""The WeChat callback blueprint (`/wechat`, CONTRACT §3)."""
from flask import Blueprint

bp = Blueprint("wechat", __name__)

from wxapp.wechat import views  # noqa: E402,F401  (routes register on import)
