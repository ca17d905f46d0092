"""`/dev/media/<name>`: the demo lessons' small videos, so that `make run` plays offline.

Served by the sandbox blueprint, hence in development only; `scripts/make-demo-videos` makes
them. Range requests are answered (send_from_directory is conditional), as players seek with them.
"""
from __future__ import annotations

from pathlib import Path

from flask import send_from_directory

from wxapp.sandbox import bp

MEDIA = Path(__file__).with_name("media")


@bp.get("/media/<name>")
def media(name: str):
    return send_from_directory(MEDIA, name, mimetype="video/mp4", max_age=3600)
