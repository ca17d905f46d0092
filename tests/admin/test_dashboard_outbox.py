"""The dashboard's watch over the outbox: notices waiting and the oldest one's age, failed and
unknown rows, and a red line once no scheduler has dispatched for two minutes."""
from __future__ import annotations

import re
from datetime import timedelta

from models import Notice, OutboxMessage, db
from services.notices import last_dispatch
from services.timeutil import utcnow
from tests import factories

STALE = 'id="dispatch-stale"'


def outbox_rows(app, *states_and_ages: tuple[str, int]) -> None:
    trainee = factories.trainee(app, name="甲", phone="13900000001", id_card="320505198001010017")
    with app.app_context():
        notice = Notice(key="class_open:1", kind="class_open", requested_by="x", params={}, recipients=1)
        db.session.add(notice)
        db.session.flush()
        now = utcnow()
        db.session.add_all([OutboxMessage(notice_id=notice.id, trainee_id=trainee, channel=channel, state=state,
                                          created_at=now - timedelta(minutes=age))
                            for channel, (state, age) in zip(("wechat", "sms"), states_and_ages, strict=False)])
        db.session.commit()


def test_dashboard_shows_waiting_notices_their_age_and_the_last_dispatch(app, console, redis):
    outbox_rows(app, ("pending", 7), ("unknown", 30))
    last_dispatch.mark(redis, utcnow() - timedelta(seconds=20))

    page = console.text("/admin/")

    assert re.search(r'href="/admin/notices\?state=pending">1</a>', page)
    assert re.search(r'href="/admin/notices\?state=unknown">1</a>', page)
    assert "最早一条已等待 7 分钟" in page and "上次派发" in page
    assert STALE not in page


def test_dashboard_says_in_red_when_the_outbox_has_not_been_dispatched_for_two_minutes(app, console, redis):
    outbox_rows(app, ("pending", 5))
    assert STALE in console.text("/admin/") and "没有定时任务进程派发过通知" in console.text("/admin/")

    last_dispatch.mark(redis, utcnow() - timedelta(minutes=3))
    page = console.text("/admin/")
    assert STALE in page and "定时任务进程已 3 分钟未派发通知" in page

    last_dispatch.mark(redis, utcnow())
    assert STALE not in console.text("/admin/")


def test_staff_resend_an_unknown_text_from_the_class_delivery_table_and_it_is_recorded(app, console, redis):
    from sqlalchemy import select

    from models import AuditEntry
    from tests.notify_util import CLASS_CODE, class_with_trainees, sms_sent

    class_with_trainees(app, bound=0, unbound=1)
    with app.app_context():
        notice = app.extensions["notice_desk"].class_open(CLASS_CODE, "test")
        row = db.session.scalars(select(OutboxMessage).where(OutboxMessage.notice_id == notice.id)).one()
        row.state, row.last_error = "unknown", "短信服务商未在超时内应答"
        db.session.commit()
        row_id = row.id

    page = console.text(f"/admin/classes/{CLASS_CODE}")
    assert f'action="/admin/notices/{row_id}/resend"' in page and "重发" in page

    answer = console.post(f"/admin/notices/{row_id}/resend")
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/admin/classes/{CLASS_CODE}#delivery")
    again = console.post(f"/admin/notices/{row_id}/resend", follow_redirects=True)
    assert "只有状态未知的通知可以重发" in again.get_data(as_text=True)

    with app.app_context():
        assert db.session.get(OutboxMessage, row_id).state == "sent"
        [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "notice_resent")).all()
    assert (entry.actor, entry.target) == ("wang", f"outbox:{row_id}")
    assert len(sms_sent(redis)) == 1
