"""Development-only stand-in for WeChat's HTTP API and the SMS gateway (never in production)."""
from flask import Blueprint

bp = Blueprint("sandbox", __name__, url_prefix="/dev")
