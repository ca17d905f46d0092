"""The audit log page (/admin/audit): readable targets, filters by staff member, action and day,
pagination."""
from __future__ import annotations

import re
from datetime import UTC, datetime

from models import AuditEntry, db
from services.admin import audit_log
from tests import factories
from tests.exam_util import bank, full_hours, sit
from tests.notify_util import CLASS_CODE, id_card, phone


def _entry(app, actor: str, action: str, target: str, at: datetime | None = None, detail: str = "") -> None:
    with app.app_context():
        db.session.add(AuditEntry(actor=actor, action=action, target=target, detail=detail,
                                  at=at or datetime.now(UTC)))
        db.session.commit()


def _rows(page: str) -> list[str]:
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


def test_targets_are_named_as_staff_know_them(app, admin_console):
    trainee = factories.trainee(app, name="周一鸣", phone=phone(1), id_card=id_card(1))
    factories.training_class(app)
    bank(app)
    full_hours(app, trainee)
    attempt = sit(app, trainee)
    _entry(app, "wang", "trainee_unbound", f"trainee:{trainee}")
    _entry(app, "wang", "class_updated", f"class:{CLASS_CODE.lower()}")
    _entry(app, "wang", "exam_voided", f"attempt:{attempt}")
    _entry(app, "wang", "roster_imported", "file:名单.xlsx")
    page = admin_console.text("/admin/audit")
    assert f"trainee:{trainee}" not in page and f"attempt:{attempt}" not in page and "class:" not in page
    assert f'<a href="/admin/trainees/{trainee}">学员 周**</a>' in page
    assert f'<a href="/admin/classes/{CLASS_CODE}">班级 {CLASS_CODE} 2027年第1期建筑工程班</a>' in page
    assert f'<a href="/admin/trainees/{trainee}#attempt-{attempt}">周** 的建筑工程考试（#{attempt}）</a>' in page
    assert "文件 名单.xlsx" in page and "周一鸣" not in page


def test_filters_by_staff_member_action_and_day(app, admin_console):
    _entry(app, "wang", "trainee_edited", "trainee:1", datetime(2027, 3, 1, 15, 30, tzinfo=UTC))  # 3-01 23:30 Beijing
    _entry(app, "wang", "trainee_edited", "trainee:1", datetime(2027, 3, 1, 16, 30, tzinfo=UTC))  # 3-02 00:30 Beijing
    _entry(app, "liu", "class_created", "class:X1", datetime(2027, 3, 2, 2, 0, tzinfo=UTC))
    page = admin_console.text("/admin/audit")
    assert '<option>liu</option>' in page and '<option value="class_created">创建班级</option>' in page
    assert len(_rows(admin_console.text("/admin/audit?actor=wang"))) == 2
    assert len(_rows(admin_console.text("/admin/audit?actor=wang&action=class_created"))) == 1  # the "none" row
    assert "没有符合条件的记录" in admin_console.text("/admin/audit?actor=wang&action=class_created")
    one_day = _rows(admin_console.text("/admin/audit?from=2027-03-02&to=2027-03-02"))
    assert len(one_day) == 2 and all("2027年3月2日" in row for row in one_day)
    assert len(_rows(admin_console.text("/admin/audit?to=2027-03-01&actor=wang"))) == 1
    assert "起始日期应为" in admin_console.text("/admin/audit?from=2027-02-30")


def test_the_log_is_paginated_and_the_pager_keeps_the_filters(app, admin_console):
    with app.app_context():
        db.session.add_all([AuditEntry(actor="wang", action="trainee_edited", target="trainee:9", detail=f"第{n}次")
                            for n in range(audit_log.PAGE_SIZE + 5)])
        db.session.commit()
    first = admin_console.text("/admin/audit?actor=wang")
    assert len(_rows(first)) == audit_log.PAGE_SIZE and "第 1 / 2 页" in first
    assert "?actor=wang&amp;page=2" in first
    second = admin_console.text("/admin/audit?actor=wang&page=2")
    assert len(_rows(second)) == 5 and "第0次" in second
