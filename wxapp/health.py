"""`GET /healthz`: is the database reachable, is Redis reachable (CONTRACT §2).

Each probe is whole inside its own guard, the release of its connection included: a database that
went away between the query and the rollback is "down", never a 500.
"""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from wxapp.extensions import db, redis_client

bp = Blueprint("health", __name__)


def _check(probe) -> str:
    try:
        probe()
        return "ok"
    except Exception as exc:  # any failure of a dependency is "down", named in the answer
        return f"down: {type(exc).__name__}"


def _database() -> None:
    with db.engine.connect() as connection:  # its own connection: the request's session is untouched
        connection.execute(text("SELECT 1"))


@bp.get("/healthz")
def healthz():
    database = _check(_database)
    redis_state = _check(lambda: redis_client().ping())
    healthy = database == "ok" and redis_state == "ok"
    return jsonify(status="ok" if healthy else "degraded", database=database, redis=redis_state), (
        200 if healthy else 503
    )
