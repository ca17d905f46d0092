"""The cached chat overview: served from Redis, refreshed by version bumps, DB alone if Redis is down."""
from __future__ import annotations

import redis as redis_lib

from models import Trainee, WechatUser, db
from services import overview
from tests import factories

OPENID = "oOverview000000000000000001"


def rename(app, trainee_id, name):
    with app.app_context():
        db.session.get(Trainee, trainee_id).name = name
        db.session.commit()


def rename_untracked(app, trainee_id, name):
    """A write the cache cannot see (outside any session: as another system would do it)."""
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(Trainee.__table__.update().where(Trainee.id == trainee_id).values(name=name))


def test_second_read_comes_from_cache_until_forgotten(app, redis):
    tid = factories.trainee(app, openid=OPENID)
    with app.app_context():
        assert overview.for_openid(db.session, redis, OPENID).name == "周一"
        rename_untracked(app, tid, "周一改")
        assert overview.for_openid(db.session, redis, OPENID).name == "周一"  # cached
        overview.forget(redis, OPENID)
        assert overview.for_openid(db.session, redis, OPENID).name == "周一改"


def test_invalidate_all_refreshes_every_openid(app, redis):
    tid = factories.trainee(app, openid=OPENID)
    with app.app_context():
        overview.for_openid(db.session, redis, OPENID)
        rename_untracked(app, tid, "新名字")
        assert overview.for_openid(db.session, redis, OPENID).name == "周一"
        overview.invalidate_all(redis)
        assert overview.for_openid(db.session, redis, OPENID).name == "新名字"


def test_entry_built_before_a_change_is_not_taken_as_fresh(app, redis):
    """A rebuild that read the old state but stored after the bump must not be served."""
    tid = factories.trainee(app, openid=OPENID)
    with app.app_context():
        stale = overview.build(db.session, OPENID)
        rename(app, tid, "已更新")
        import json

        from services import keys

        redis.set(keys.overview(OPENID), json.dumps({"stamp": ["0", "0"], "overview": overview._encode(stale)}))
        assert overview.for_openid(db.session, redis, OPENID).name == "已更新"


def test_cached_overview_round_trips_courses_classes_and_exam(app, redis):
    factories.training_class(app)
    factories.trainee(app, openid=OPENID, class_code="SZ2701-JZ",
                      majors=(("建筑工程", "main"), ("矿业工程", "added")))
    with app.app_context():
        fresh = overview.for_openid(db.session, redis, OPENID)
        cached = overview.for_openid(db.session, redis, OPENID)
    assert cached == fresh
    assert [c.major for c in cached.courses] == [None, "建筑工程", "矿业工程"]
    assert cached.classes[0].starts_at.tzinfo is not None


def test_redis_down_answers_from_the_database(make_app):
    app = make_app()
    factories.trainee(app, openid=OPENID)
    dead = redis_lib.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    with app.app_context():
        assert overview.for_openid(db.session, dead, OPENID).name == "周一"


def test_committed_roster_change_refreshes_cached_overviews(app, redis):
    tid = factories.trainee(app, openid=OPENID)
    with app.app_context():
        overview.for_openid(db.session, redis, OPENID)
        rename(app, tid, "改过的名字")  # an ORM write committed through the app's session
        assert overview.for_openid(db.session, redis, OPENID).name == "改过的名字"


def test_bulk_statement_refreshes_cached_overviews(app, redis):
    from sqlalchemy import update

    tid = factories.trainee(app, openid=OPENID)
    with app.app_context():
        overview.for_openid(db.session, redis, OPENID)
        db.session.execute(update(Trainee).where(Trainee.id == tid).values(name="批量改名"))
        db.session.commit()
        assert overview.for_openid(db.session, redis, OPENID).name == "批量改名"


def test_rolled_back_change_bumps_nothing(app, redis):
    from services import keys

    tid = factories.trainee(app, openid=OPENID)
    with app.app_context():
        before = redis.get(keys.overview_generation())
        db.session.get(Trainee, tid).name = "不提交"
        db.session.flush()
        db.session.rollback()
        assert redis.get(keys.overview_generation()) == before


def test_binding_change_forgets_only_that_openid(app, redis):
    from services import keys

    tid = factories.trainee(app)
    with app.app_context():
        assert overview.for_openid(db.session, redis, OPENID) is None
        generation = redis.get(keys.overview_generation())
        db.session.add(WechatUser(openid=OPENID, trainee_id=tid))
        db.session.commit()
        assert redis.get(keys.overview_generation()) == generation
        assert overview.for_openid(db.session, redis, OPENID).trainee_id == tid


def test_a_completed_lesson_refreshes_only_its_trainees_overview(app, redis):
    from datetime import UTC, datetime

    from models import LessonProgress
    from services import keys
    from tests.study_util import lesson

    lesson_id = lesson(app, hours=6)
    tid = factories.trainee(app, openid=OPENID)
    other = "oOverview000000000000000002"
    factories.trainee(app, name="吴二", phone="13912340002", id_card="32058319751212108X", openid=other)
    with app.app_context():
        overview.for_openid(db.session, redis, OPENID)
        overview.for_openid(db.session, redis, other)
        generation, others = redis.get(keys.overview_generation()), redis.get(keys.overview_version(other))
        row = LessonProgress(trainee_id=tid, lesson_id=lesson_id, watched="[]", credited_seconds=30,
                             max_position=30, position=30)
        db.session.add(row)
        db.session.commit()
        mine = redis.get(keys.overview_version(OPENID))  # a row without completion: nothing the overview shows
        row.completed_at = datetime.now(UTC)
        db.session.commit()

        assert redis.get(keys.overview_version(OPENID)) != mine
        assert overview.for_openid(db.session, redis, OPENID).courses[0].hours_earned == 6
        assert redis.get(keys.overview_generation()) == generation
        assert redis.get(keys.overview_version(other)) == others


def test_progress_that_completes_nothing_bumps_nothing(app, redis):
    from models import LessonProgress
    from services import keys
    from tests.study_util import lesson

    lesson_id = lesson(app, hours=6)
    tid = factories.trainee(app, openid=OPENID)
    with app.app_context():
        db.session.add(LessonProgress(trainee_id=tid, lesson_id=lesson_id, watched="[]", credited_seconds=30,
                                      max_position=30, position=30))
        db.session.commit()
        before = redis.get(keys.overview_version(OPENID))
        db.session.get(LessonProgress, 1).credited_seconds = 60
        db.session.commit()
        assert redis.get(keys.overview_version(OPENID)) == before
