"""The WeChat callback blueprint (`/wechat`)."""
from flask import Blueprint

bp = Blueprint("wechat", __name__)
