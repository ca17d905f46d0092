"""`GET /healthz` names the state of the database and Redis."""


def test_healthz_reports_database_and_redis_ok(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_is_503_when_redis_is_down(make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    r = app.test_client().get("/healthz")
    assert r.status_code == 503
    assert r.json["database"] == "ok" and r.json["redis"].startswith("down")


def test_healthz_is_503_when_database_is_down(make_app):
    make_app()  # the first app of a test prepares the working database
    dead = make_app(DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/none")
    r = dead.test_client().get("/healthz")
    assert r.status_code == 503 and r.json["database"].startswith("down") and r.json["redis"] == "ok"


def test_healthz_with_scheduler_says_when_dispatch_last_ran_and_is_503_when_stale(app, redis):
    from datetime import timedelta

    from services.notices import last_dispatch
    from services.timeutil import utcnow

    client = app.test_client()
    r = client.get("/healthz?scheduler=1")  # never dispatched: no scheduler has run
    assert r.status_code == 503 and r.json["scheduler"]["state"] == "stale"
    assert r.json["scheduler"]["dispatched_at"] is None and r.json["database"] == "ok"

    last_dispatch.mark(redis, utcnow() - timedelta(seconds=5))
    r = client.get("/healthz?scheduler=1")
    assert r.status_code == 200 and r.json["status"] == "ok"
    assert r.json["scheduler"]["state"] == "ok" and 4 <= r.json["scheduler"]["dispatched_ago_s"] <= 60

    last_dispatch.mark(redis, utcnow() - timedelta(minutes=3))
    r = client.get("/healthz?scheduler=1")
    assert r.status_code == 503 and r.json["scheduler"]["state"] == "stale"
    assert client.get("/healthz").json == {"status": "ok", "database": "ok", "redis": "ok"}  # plain: unchanged
