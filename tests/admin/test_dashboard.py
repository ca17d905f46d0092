"""The dashboard's figures and the rows behind them; the exports page and its xlsx reports."""
from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from models import (
    AttendanceCheck,
    AttendanceRefusal,
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    Notice,
    OutboxMessage,
    Trainee,
    WechatUser,
    db,
)
from services.admin import figures
from services.school.majors import ensure_majors
from tests import factories
from tests.notify_util import CLASS_CODE, id_card, phone


def _catalog(app) -> tuple[int, int]:
    with app.app_context():
        majors = ensure_majors(db.session)
        public = Course(kind="public", name="公共课程", hours_required=16)
        building = Course(kind="professional", major=majors["建筑工程"], name="建筑工程专业课", hours_required=40)
        public.lessons.append(Lesson(title="法规", video_url="https://m/1.mp4", duration_s=60, hours=16))
        building.lessons.append(Lesson(title="建筑", video_url="https://m/2.mp4", duration_s=60, hours=40))
        db.session.add_all([public, building])
        db.session.commit()
        return public.lessons[0].id, building.lessons[0].id


@pytest.fixture
def school(app):
    """甲 finished and bound, 乙 studying, 丙 nothing; 甲 and 乙 in the class; today's checks and notices."""
    now = datetime.now(UTC)
    factories.training_class(app)
    a = factories.trainee(app, name="甲", phone=phone(1), id_card=id_card(1), openid="oA", class_code=CLASS_CODE)
    b = factories.trainee(app, name="乙", phone=phone(2), id_card=id_card(2), class_code=CLASS_CODE)
    c = factories.trainee(app, name="丙", phone=phone(3), id_card=id_card(3), majors=(("机电工程", "main"),))
    public, building = _catalog(app)
    with app.app_context():
        db.session.add_all([
            LessonProgress(trainee_id=a, lesson_id=public, completed_at=now),
            LessonProgress(trainee_id=a, lesson_id=building, completed_at=now),
            LessonProgress(trainee_id=b, lesson_id=public, watched="[[0, 30]]"),
        ])
        checks = [AttendanceCheck(public_id=f"c{n}", trainee_id=t, lesson_id=public, token_hash=f"h{n}",
                                  issued_at=now - timedelta(minutes=5), expires_at=now + timedelta(minutes=m),
                                  status=s)
                  for n, (t, s, m) in enumerate([(a, "verified", 1), (b, "pending", -1), (b, "pending", 5)])]
        db.session.add_all(checks)
        db.session.flush()
        db.session.add(AttendanceRefusal(check_id=checks[2].id, openid="oStranger"))
        notice = Notice(key="class_open:1", kind="class_open", class_id=1, requested_by="x", params={}, recipients=3)
        db.session.add(notice)
        db.session.flush()
        db.session.add_all([OutboxMessage(notice_id=notice.id, trainee_id=t, channel=ch, state=st)
                            for t, ch, st in [(a, "wechat", "sent"), (b, "sms", "failed"), (c, "sms", "unknown")]])
        db.session.commit()
    return a, b, c


def link(page: str, label_href: str) -> str:
    """The number shown in the link to `label_href`."""
    return re.search(rf'href="{re.escape(label_href)}">(\d+)</a>', page).group(1)


def test_dashboard_figures_and_their_links(app, console, school):
    page = console.text("/admin/")
    assert link(page, "/admin/trainees") == "3"
    assert link(page, "/admin/trainees?state=bound") == "1"
    assert link(page, "/admin/trainees?state=studying") == "2"
    assert link(page, "/admin/trainees?state=finished") == "1"
    assert link(page, "/admin/attendance") == "3"
    assert link(page, "/admin/attendance?status=verified") == "1"
    assert link(page, "/admin/attendance?status=expired") == "1"
    assert link(page, "/admin/attendance?status=refused") == "1"
    assert link(page, "/admin/notices?state=sent") == "1"
    assert link(page, "/admin/notices?state=failed") == "1"
    assert link(page, "/admin/notices?state=unknown") == "1"
    with app.app_context():
        building = next(g for g in figures.count_study(db.session, datetime.now(UTC)).majors
                        if g.label == "建筑工程")
    assert link(page, f"/admin/trainees?major={building.key}&amp;state=finished") == "1"
    assert link(page, f"/admin/trainees?state=studying&amp;class={CLASS_CODE}") == "2"


def test_each_number_leads_to_its_rows(console, school):
    finished = console.text("/admin/trainees?state=finished")
    assert "甲" in finished and "乙" not in finished and "丙" not in finished
    studying = console.text(f"/admin/trainees?state=studying&class={CLASS_CODE}")
    assert "甲" in studying and "乙" in studying and "丙" not in studying
    unbound = console.text("/admin/trainees?state=unbound")
    assert "乙" in unbound and "丙" in unbound and "甲" not in unbound
    expired = console.text("/admin/attendance?status=expired")
    assert expired.count("/admin/trainees/") == 1 and "乙" in expired
    refused = console.text("/admin/attendance?status=refused")
    assert "乙" in refused and "甲" not in refused
    failed = console.text("/admin/notices?state=failed")
    assert "乙" in failed and "甲" not in failed


def test_by_class_and_by_major_figures(app, school):
    a, _, _ = school
    with app.app_context():
        db.session.add(Enrollment(trainee_id=a, major_id=figures_major(app, "机电工程"), kind="added", fee=304))
        db.session.commit()
        study = figures.count_study(db.session, datetime.now(UTC))
    [training_class] = study.classes
    majors = {g.label: g for g in study.majors}
    assert (training_class.enrolled, training_class.bound, training_class.studying, training_class.finished) == (2, 1, 2, 1)
    assert (majors["机电工程"].enrolled, majors["机电工程"].bound, majors["机电工程"].finished) == (2, 1, 0)
    assert majors["矿业工程"].enrolled == 0
    totals = study.totals  # 甲 counts once, though enrolled twice
    assert (totals.enrolled, totals.bound, totals.studying, totals.finished) == (3, 1, 2, 1)


def figures_major(app, name: str) -> int:
    return ensure_majors(db.session)[name].id


def test_figures_are_kept_a_minute_and_recounted_after_a_change(app, console, school, redis):
    assert link(console.text("/admin/"), "/admin/trainees?state=bound") == "1"
    assert redis.ttl("wxapp:admin:study_figures") > 50
    with app.app_context():
        db.session.query(WechatUser).delete()
        db.session.commit()
    assert link(console.text("/admin/"), "/admin/trainees?state=bound") == "1"  # kept
    assert link(console.text("/admin/?fresh=1"), "/admin/trainees?state=bound") == "0"
    a, _, _ = school
    console.text("/admin/")
    assert redis.exists("wxapp:admin:study_figures")
    console.post(f"/admin/trainees/{a}/edit", data={"phone": "", "company": "新单位"})  # a change in the console
    assert not redis.exists("wxapp:admin:study_figures")


def test_trainee_page_lists_lessons_checks_and_notices(console, school):
    a, b, _ = school
    page = console.text(f"/admin/trainees/{b}")
    assert "法规" in page and "00:00–00:30" in page
    assert "已超时" in page and "待验证" in page and "失败" in page


def test_exports_page_and_attendance_report(app, console, school):
    page = console.text("/admin/exports")
    assert f"/admin/exports/attendance/{CLASS_CODE}.xlsx" in page and "/admin/exports/fees.xlsx" in page
    response = console.get(f"/admin/exports/attendance/{CLASS_CODE}.xlsx")
    assert response.status_code == 200 and "filename*=UTF-8''" in response.headers["Content-Disposition"]
    rows = list(load_workbook(io.BytesIO(response.data)).active.values)
    assert rows[0][:4] == ("姓名", "手机号", "工作单位", "微信")
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["甲"][4:7] == ("16/16", "40/40", 1) and by_name["甲"][7] == 1
    assert by_name["乙"][6:10] == (2, 0, 1, 1)
    assert phone(1) not in str(rows) and "139****0001" in str(rows)
    assert console.get("/admin/exports/attendance/NOPE.xlsx").status_code == 404


def test_fee_report_writes_formula_looking_text_as_text(app, console, school):
    with app.app_context():
        db.session.query(Trainee).filter_by(name="丙").update({"company": "=1+1"})
        db.session.commit()
    response = console.get("/admin/exports/fees.xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.values)
    assert rows[0] == ("工作单位", "专业", "主项人数", "主项费用(元)", "增项人数", "增项费用(元)", "合计(元)", "已缴(元)",
                       "未缴(元)")
    cell = next(c for c in sheet["A"] if c.value == "'=1+1")  # the formula guard's prefix
    assert cell.data_type == "s"
    assert ("苏州示例建设有限公司", "建筑工程", 2, 1230, 0, 0, 1230, 0, 1230) in rows


def test_exam_passed_per_class_and_major_counts_standing_passes_and_links_to_them(app, console, school):
    from models import Completion
    from tests.completion_util import complete

    a, b, c = school
    with app.app_context():
        db.session.add(Enrollment(trainee_id=a, major_id=figures_major(app, "机电工程"), kind="added", fee=304))
        db.session.commit()
    complete(app, a)
    complete(app, a, major="机电工程")
    voided = complete(app, c, major="机电工程")
    with app.app_context():
        db.session.query(Completion).filter_by(number=voided).update(
            {"state": "cancelled", "cancelled_at": datetime.now(UTC)})
        db.session.commit()
        study = figures.count_study(db.session, datetime.now(UTC))
    majors = {g.label: g for g in study.majors}
    assert (study.classes[0].passed, majors["建筑工程"].passed, majors["机电工程"].passed) == (1, 1, 1)
    assert study.totals.passed == 1  # 甲 counts once; 丙's voided pass not at all
    page = console.text("/admin/?fresh=1")
    assert link(page, "/admin/trainees?state=passed") == "1"
    assert link(page, f"/admin/trainees?state=passed&amp;class={CLASS_CODE}") == "1"
    rows = console.text(f"/admin/trainees?major={figures_major_id(app, '机电工程')}&state=passed")
    assert "甲" in rows and "丙" not in rows and "考试已合格" in rows


def figures_major_id(app, name: str) -> int:
    with app.app_context():
        return figures_major(app, name)
