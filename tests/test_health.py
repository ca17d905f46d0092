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
