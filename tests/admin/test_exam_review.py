"""A trainee's exam on the console: attempts with both photos served to staff only, void with a
reason (the trainee is told, the certificate is cancelled), release of an open attempt, the
certificate PDF, lifting a binding lock, and the recorded download of the completions file."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from models import AuditEntry, BindingLog, Completion, OutboxMessage, db
from models.exam import ExamAttempt
from services import keys
from tests import factories
from tests.exam_util import bank, full_hours, sit
from tests.notify_util import id_card, phone


@pytest.fixture
def passed(app):
    """(trainee id, passed attempt id) of 周一, and another trainee 李梅 with an open attempt."""
    trainee_id = factories.trainee(app, phone=phone(1), id_card=id_card(1))
    other = factories.trainee(app, name="李梅", phone=phone(2), id_card=id_card(2))
    bank(app)
    full_hours(app, trainee_id)
    full_hours(app, other)
    return trainee_id, sit(app, trainee_id), other, sit(app, other, submit=False)


def _audit(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        return db.session.query(AuditEntry).filter_by(action=action).all()


def test_page_shows_attempts_with_both_photos_served_only_to_staff(app, console, passed):
    trainee_id, attempt_id, other, open_id = passed
    page = console.text(f"/admin/trainees/{trainee_id}")
    assert f"#{attempt_id} 建筑工程" in page and "100 分" in page and "合格" in page
    before = f"/admin/trainees/{trainee_id}/attempts/{attempt_id}/before.jpg"
    after = f"/admin/trainees/{trainee_id}/attempts/{attempt_id}/after.jpg"
    assert before in page and after in page and "取消成绩" in page
    got = console.get(before)
    assert got.status_code == 200 and got.mimetype == "image/jpeg" and got.data[:2] == b"\xff\xd8"
    assert got.headers["Cache-Control"] == "private, no-store"
    assert console.get(after).status_code == 200
    # Another trainee's attempt under this trainee's page, or a photo not yet taken: not found.
    assert console.get(f"/admin/trainees/{trainee_id}/attempts/{open_id}/before.jpg").status_code == 404
    assert console.get(f"/admin/trainees/{other}/attempts/{open_id}/after.jpg").status_code == 404
    assert app.test_client().get(before).status_code == 302  # no staff session: to the login


def test_void_needs_a_reason_then_cancels_tells_the_trainee_and_is_recorded(app, console, passed):
    trainee_id, attempt_id, _, _ = passed
    url = f"/admin/trainees/{trainee_id}/attempts/{attempt_id}/void"
    refused = console.post(url, data={"reason": "  "}, follow_redirects=True).get_data(as_text=True)
    assert "请填写取消成绩的原因" in refused and not _audit(app, "exam_voided")
    with app.app_context():
        assert db.session.query(Completion).one().state == "valid"
        sent_before = db.session.query(OutboxMessage).filter_by(trainee_id=trainee_id).count()
    page = console.post(url, data={"reason": "考前照片与本人不符"}, follow_redirects=True).get_data(as_text=True)
    assert "已取消该次考试的合格成绩" in page and "成绩已取消" in page and "考前照片与本人不符" in page
    with app.app_context():
        assert db.session.get(ExamAttempt, attempt_id).voided_by == "wang"
        assert db.session.query(Completion).one().state == "cancelled"
        assert db.session.query(OutboxMessage).filter_by(trainee_id=trainee_id).count() == sent_before + 1
    (entry,) = _audit(app, "exam_voided")
    assert entry.actor == "wang" and entry.target == f"attempt:{attempt_id}" and "考前照片与本人不符" in entry.detail
    again = console.post(url, data={"reason": "再次"}, follow_redirects=True).get_data(as_text=True)
    assert "已于之前取消" in again and len(_audit(app, "exam_voided")) == 1  # the refused one left no record


def test_void_of_another_trainees_attempt_is_refused(app, console, passed):
    trainee_id, _, other, open_id = passed
    page = console.post(f"/admin/trainees/{trainee_id}/attempts/{open_id}/void", data={"reason": "x"},
                        follow_redirects=True).get_data(as_text=True)
    assert "没有找到这次考试记录" in page and not _audit(app, "exam_voided")


def test_release_frees_an_open_attempt_and_is_recorded(app, console, passed):
    _, attempt_id, other, open_id = passed
    page = console.text(f"/admin/trainees/{other}")
    assert "作答中" in page and f"/attempts/{open_id}/release" in page and "无照片" in page
    done = console.post(f"/admin/trainees/{other}/attempts/{open_id}/release", follow_redirects=True)
    assert "已释放" in done.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(ExamAttempt, open_id).session_hash is None
    (entry,) = _audit(app, "exam_released")
    assert entry.actor == "wang" and entry.target == f"attempt:{open_id}"


def test_staff_opens_the_certificate_pdf_of_this_trainee_only(app, console, passed):
    trainee_id, _, other, _ = passed
    with app.app_context():
        number = db.session.query(Completion).one().number
    page = console.text(f"/admin/trainees/{trainee_id}")
    url = f"/admin/trainees/{trainee_id}/certificates/{number}.pdf"
    assert number in page and url in page and "有效" in page
    pdf = console.get(url)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert console.get(f"/admin/trainees/{other}/certificates/{number}.pdf").status_code == 404


def test_lifting_a_binding_lock_clears_the_locks_and_is_recorded(app, console):
    trainee_id = factories.trainee(app, phone=phone(3), id_card=id_card(3))
    redis = app.extensions["redis"]
    with app.app_context():
        db.session.add(BindingLog(action="refused", reason="locked", openid="oTried", trainee_id=trainee_id, ip="10.0.0.9"))
        db.session.commit()
    redis.set(keys.bind_lock("openid", "oTried"), "1")
    redis.set(keys.bind_lock("ip", "10.0.0.9"), "1")
    redis.set(keys.bind_failures("openid", "oTried"), "5")
    page = console.post(f"/admin/trainees/{trainee_id}/unlock", follow_redirects=True).get_data(as_text=True)
    assert "已解除认证锁定 2 项" in page
    assert not redis.exists(keys.bind_lock("openid", "oTried"), keys.bind_lock("ip", "10.0.0.9"),
                            keys.bind_failures("openid", "oTried"))
    (entry,) = _audit(app, "binding_unlocked")
    assert entry.actor == "wang" and entry.target == f"trainee:{trainee_id}" and "2 项" in entry.detail
    again = console.post(f"/admin/trainees/{trainee_id}/unlock", follow_redirects=True).get_data(as_text=True)
    assert "没有被锁定的认证" in again


def test_completions_export_warns_filters_and_records_the_download(app, console, passed):
    trainee_id, _, _, _ = passed
    page = console.text("/admin/exports")
    assert "完整的身份证号" in page and 'name="from"' in page and 'name="major"' in page
    got = console.post("/admin/exports/completions", data={"from": "", "to": "", "major": "建筑工程"})
    assert got.status_code == 200 and got.headers["Cache-Control"] == "no-store"
    sheet = load_workbook(io.BytesIO(got.data)).worksheets[0]
    assert sheet.max_row == 2 and sheet.cell(2, 1).value == "周一" and sheet.cell(2, 2).value == id_card(1)
    (entry,) = _audit(app, "completions_exported")
    assert entry.actor == "wang" and "1 条" in entry.detail and "建筑工程" in entry.detail
    none = console.post("/admin/exports/completions", data={"major": "市政公用工程"}, follow_redirects=True)
    assert none.mimetype == "text/html" and "没有结业记录" in none.get_data(as_text=True)  # says why, no file


@pytest.mark.parametrize("form, message", [
    ({"from": "2027-13-01"}, "起始日期应为 YYYY-MM-DD"),
    ({"to": "明天"}, "截止日期应为 YYYY-MM-DD"),
    ({"major": "土木"}, "没有“土木”这个专业"),
    ({"from": "2027-04-01", "to": "2027-03-01"}, "起始日期晚于截止日期"),
])
def test_a_mistyped_export_filter_is_refused_in_words(app, console, form, message):
    page = console.post("/admin/exports/completions", data=form, follow_redirects=True)
    assert page.status_code == 200 and message in page.get_data(as_text=True)
    assert not _audit(app, "completions_exported")


def test_admin_sees_the_same_and_the_audit_page_names_the_actions(app, admin_console, passed):
    trainee_id, attempt_id, _, _ = passed
    admin_console.post(f"/admin/trainees/{trainee_id}/attempts/{attempt_id}/void", data={"reason": "代考"})
    assert "取消考试成绩" in admin_console.text("/admin/audit")
