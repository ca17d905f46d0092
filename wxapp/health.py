"""`GET /healthz`: is the database reachable, is Redis reachable (CONTRACT §2).

`GET /healthz?scheduler=1` also says when the scheduler last dispatched the outbox, and answers
503 when that is longer ago than `last_dispatch.STALE_AFTER` (no scheduler is dispatching).

Each probe is whole inside its own guard, the release of its connection included: a database that
went away between the query and the rollback is "down", never a 500. The database's probe has
DATABASE_S in all (connecting included): a hung server is "down" within 2 s, not a hung answer.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import text

from services.notices import last_dispatch
from services.timeutil import utcnow
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
    answer: dict[str, object] = {"status": "ok", "database": database, "redis": redis_state}
    if request.args.get("scheduler") == "1":
        scheduler = answer["scheduler"] = _scheduler()
        healthy = healthy and scheduler["state"] == "ok"
    answer["status"] = "ok" if healthy else "degraded"
    return jsonify(answer), 200 if healthy else 503


def _scheduler() -> dict[str, object]:
    """When the outbox was last dispatched, and whether that is recent enough (`ok`) or not (`stale`)."""
    now = utcnow()
    try:
        last = last_dispatch.read(redis_client())
    except Exception as exc:  # Redis down: named as for the probes above
        return {"state": f"down: {type(exc).__name__}", "dispatched_at": None, "dispatched_ago_s": None}
    return {"state": "stale" if last_dispatch.stale(last, now) else "ok",
            "dispatched_at": last.isoformat() if last else None,
            "dispatched_ago_s": round((now - last).total_seconds()) if last else None}
