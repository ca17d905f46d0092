"""Course hours are the sum of the completed lessons, capped at what the course requires; the
portal, /api/courses and the MY_COURSES answer show them."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from models import LessonProgress, db
from services.study import learning
from tests import factories
from tests.conftest import TEST_TOKEN
from tests.study_util import lesson
from tests.wechat_util import WeChatServer, event_xml, reply_content

OPENID = "oHoursUser00000000000000001"


def complete(app, trainee_id, *lesson_ids, done=True):
    with app.app_context():
        for lesson_id in lesson_ids:
            db.session.add(LessonProgress(trainee_id=trainee_id, lesson_id=lesson_id, watched="[]",
                                          credited_seconds=0, max_position=0, position=0,
                                          completed_at=datetime.now(UTC) if done else None))
        db.session.commit()


def test_hours_earned_are_the_completed_lessons_hours(app):
    first, second, third = (lesson(app, hours=h, title=f"第{i}讲") for i, h in enumerate((6, 5, 5.5), start=1))
    trainee_id = factories.trainee(app, openid=OPENID)
    other_id = factories.trainee(app, name="吴二", phone="13912340002", id_card="32058319751212108X")
    complete(app, trainee_id, first, third)
    complete(app, trainee_id, second, done=False)
    complete(app, other_id, second)
    with app.app_context():
        public = learning.courses(db.session, trainee_id)[0]
        assert (public.hours_earned, public.hours_required) == (Decimal("11.5"), Decimal(16))
        detail = learning.course_details(db.session, trainee_id)[0]
        assert detail.hours_earned == Decimal("11.5")
        assert [le.completed for le in detail.lessons] == [True, False, True]
        assert learning.courses(db.session, other_id)[0].hours_earned == Decimal(5)


def test_hours_never_exceed_what_the_course_requires(app):
    lessons = [lesson(app, hours=9, title=f"第{i}讲") for i in range(2)]
    trainee_id = factories.trainee(app, openid=OPENID)
    complete(app, trainee_id, *lessons)
    with app.app_context():
        assert learning.courses(db.session, trainee_id)[0].hours_earned == Decimal(16)
        assert learning.course_details(db.session, trainee_id)[0].percent == 100


def test_my_courses_shows_the_earned_hours(app, client):
    lesson_id = lesson(app, hours=6)
    trainee_id = factories.trainee(app, openid=OPENID)
    wechat = WeChatServer(client, TEST_TOKEN)
    assert "0 / 16 学时" in reply_content(wechat.post(event_xml(OPENID, "CLICK", "MY_COURSES")).data)
    complete(app, trainee_id, lesson_id)  # committed through the session: the cached answer is refreshed
    assert "6 / 16 学时" in reply_content(wechat.post(event_xml(OPENID, "CLICK", "MY_COURSES")).data)
