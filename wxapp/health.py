"""`GET /healthz`: is the database reachable, is Redis reachable (CONTRACT §2).

Each probe is whole inside its own guard, the release of its connection included: a database that
went away between the query and the rollback is "down", never a 500. The database's probe has
DATABASE_S in all (connecting included): a hung server is "down" within 2 s, not a hung answer.
"""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from wxapp import db_budget
from wxapp.extensions import db, redis_client

bp = Blueprint("health", __name__)
DATABASE_S = 1.5


def _check(probe) -> str:
    try:
        probe()
        return "ok"
    except Exception as exc:  # any failure of a dependency is "down", named in the answer
        return f"down: {type(exc).__name__}"


def _database() -> None:
    # Its own connection: the request's session is untouched.
    with db_budget.limit(DATABASE_S), db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@bp.get("/healthz")
def healthz():
    database = _check(_database)
    redis_state = _check(lambda: redis_client().ping())
    healthy = database == "ok" and redis_state == "ok"
    return jsonify(status="ok" if healthy else "degraded", database=database, redis=redis_state), (
        200 if healthy else 503
    )
