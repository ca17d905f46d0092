"""The JSON the H5 pages call (CONTRACT §4)."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from wxapp.api import courses, exam, faces, play  # noqa: E402,F401  (routes register on import)
