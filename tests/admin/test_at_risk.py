"""注册即将到期 (the at-risk list): trainees whose registration ends within N days with hours or the
exam missing, soonest first, filtered, exported with the formula guard, counted on the dashboard;
the reminder to the ticked trainees, confirmed by channel, audited, at most once a week per trainee
whichever door sent it (the console or the weekly job)."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import select, update

from models import AuditEntry, Enrollment, Notice, OutboxMessage, Trainee, db
from services.timeutil import SHANGHAI, utcnow
from tests import factories
from tests.exam_util import bank, full_hours
from tests.notify_util import id_card, phone, sms_sent
from tests.services.test_registration_expiry import pass_exam


@pytest.fixture
def app(make_app, fake_wechat):
    return make_app(WECHAT_API_BASE=fake_wechat.base_url, OUTBOX_RATE_PER_S=0, OUTBOX_RETRY_BASE_S=0)


def today():
    return utcnow().astimezone(SHANGHAI).date()


def expires_in(app, trainee_id: int, days: int | None) -> None:
    with app.app_context():
        day = today() + timedelta(days=days) if days is not None else None
        db.session.execute(update(Enrollment).where(Enrollment.trainee_id == trainee_id)
                           .values(registration_expires=day))
        db.session.commit()


def person(app, n: int, days: int | None, **kw) -> int:
    tid = factories.trainee(app, name=f"学员{n}", phone=phone(n), id_card=id_card(n), **kw)
    expires_in(app, tid, days)
    return tid


@pytest.fixture
def school(app):
    """Trainees at 30 and 80 days (hours missing), one at 200 days, one already expired, one
    without a date, one who passed (at 10 days), one in a class at 60 days with hours done."""
    bank(app)
    factories.training_class(app, code="SZ2701-JZ")
    people = {
        "soon": person(app, 1, 30), "later": person(app, 2, 80), "far": person(app, 3, 200),
        "expired": person(app, 4, -1), "undated": person(app, 5, None), "passed": person(app, 6, 10),
    }
    people["member"] = factories.trainee(app, name="学员7", phone=phone(7), id_card=id_card(7), class_code="SZ2701-JZ")
    expires_in(app, people["member"], 60)
    full_hours(app, people["soon"], public_done=False, major_done=False)
    full_hours(app, people["member"])
    full_hours(app, people["passed"])
    pass_exam(app, people["passed"], "建筑工程")
    return people


def rows_of(page: str) -> list[str]:
    return re.findall(r'name="trainee_id" value="(\d+)"', page)


def test_list_shows_who_runs_out_of_time_soonest_first_with_what_is_missing(console, school):
    page = console.text("/admin/at-risk")
    assert rows_of(page) == [str(school["soon"]), str(school["member"]), str(school["later"])]
    assert "公共课 4 学时" in page and "建筑工程专业课 40 学时" in page and "建筑工程考试" in page
    assert "139****0001" in page and phone(1) not in page and "苏州示例建设有限公司" in page
    assert rows_of(console.text("/admin/at-risk?days=365"))[-1] == str(school["far"])


def test_list_filters_by_class_major_and_company(app, console, school):
    assert rows_of(console.text("/admin/at-risk?class=SZ2701-JZ")) == [str(school["member"])]
    with app.app_context():
        db.session.execute(update(Trainee).where(Trainee.id == school["later"]).values(company="昆山某某路桥公司"))
        db.session.commit()
        municipal = db.session.scalar(select(Enrollment.major_id).where(Enrollment.trainee_id == school["soon"]))
    assert rows_of(console.text("/admin/at-risk?company=路桥")) == [str(school["later"])]
    assert len(rows_of(console.text(f"/admin/at-risk?major={municipal}"))) == 3
    assert rows_of(console.text(f"/admin/at-risk?major={municipal + 1}")) == []
    assert "班级 NOPE 不存在" in console.text("/admin/at-risk?class=NOPE")


def test_export_is_xlsx_masked_and_formula_safe(app, console, school):
    with app.app_context():
        db.session.execute(update(Trainee).where(Trainee.id == school["soon"]).values(company="=HYPERLINK(\"x\")"))
        db.session.commit()
    r = console.get("/admin/at-risk.xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(r.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("姓名", "手机号", "工作单位") and len(rows) == 4
    assert rows[1][1] == "139****0001" and rows[1][2] == "'=HYPERLINK(\"x\")"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_dashboard_shows_the_count_as_a_link(console, school):
    page = console.text("/admin/")
    assert re.search(r'href="/admin/at-risk">3</a>', page)


def test_reminder_confirms_counts_per_channel_then_sends_once_and_is_audited(app, console, school):
    chosen = {"trainee_id": [school["soon"], school["later"]]}
    confirm = console.post("/admin/at-risk/remind", data=chosen).get_data(as_text=True)
    assert re.search(r'id="count-sms">2<', confirm) and re.search(r'id="count-wechat">0<', confirm)
    with app.app_context():
        sent = select(OutboxMessage.id).join(Notice).where(Notice.kind == "registration_expiry")
        assert db.session.scalar(sent) is None  # nothing sent before the confirmation
    assert console.post("/admin/at-risk/remind", data={**chosen, "confirm": "1"}).status_code == 302
    texts = [e for e in sms_sent(app.extensions["redis"]) if e.body["template_code"] == "SMS_REGISTRATION_EXPIRY"]
    assert sorted(e.body["phone"] for e in texts) == ["139****0001", "139****0002"]
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "at_risk_reminded")).one()
        assert entry.actor == "wang" and "2 人" in entry.detail
    again = console.post("/admin/at-risk/remind", data=chosen).get_data(as_text=True)
    assert re.search(r'id="count-sms">0<', again) and "2 人最近7天内已提醒过" in again
    console.post("/admin/at-risk/remind", data={**chosen, "confirm": "1"})
    assert len([e for e in sms_sent(app.extensions["redis"])
                if e.body["template_code"] == "SMS_REGISTRATION_EXPIRY"]) == 2


def test_the_weekly_job_skips_whom_the_console_reminded_this_week_and_back(app, console, school):
    console.post("/admin/at-risk/remind", data={"trainee_id": [school["soon"]], "confirm": "1"})
    with app.app_context():
        notice = app.extensions["notice_desk"].registration_expiry()
        reached = set(db.session.scalars(select(OutboxMessage.trainee_id).where(OutboxMessage.notice_id == notice.id)))
    assert school["soon"] not in reached and school["later"] in reached
    page = console.post("/admin/at-risk/remind", data={"trainee_id": [school["later"]]}).get_data(as_text=True)
    assert "1 人最近7天内已提醒过" in page


def test_next_weeks_run_reaches_this_weeks_trainees_again(app, school):
    with app.app_context():
        desk = app.extensions["notice_desk"]
        first = desk.registration_expiry()
        mid_week = desk.registration_expiry(utcnow() + timedelta(days=3))
        next_week = desk.registration_expiry(utcnow() + timedelta(days=7))
        reached = [set(db.session.scalars(select(OutboxMessage.trainee_id).where(OutboxMessage.notice_id == n.id)))
                   if n else set() for n in (first, mid_week, next_week)]
    assert school["soon"] in reached[0] and school["soon"] not in reached[1] and school["soon"] in reached[2]
