"""Trainee pages inside WeChat's in-app browser (CONTRACT §4): OAuth session, bind, portal,
the lesson player with its exercise, and the attendance page a scanned QR opens."""
from flask import Blueprint

bp = Blueprint("h5", __name__, url_prefix="/h5", template_folder="templates")

from wxapp.h5 import auth, certificates, exam, move, study, views  # noqa: E402,F401  (routes register on import)
