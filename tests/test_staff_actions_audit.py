"""Staff actions have one door each (CONTRACT §1 last line, §9): a change and its audit row are
written in one transaction, whichever door (console or CLI) was used, and the CLI's actions show in
the audit log with their actor (`--by`, else the OS user)."""
from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from models import AuditEntry, WechatUser, db
from tests import factories
from tests.admin.conftest import console_on
from tests.notify_util import CLASS_CODE, class_with_trainees, notify_settings
from tests.test_cli_exam import passed_attempt  # noqa: F401  (a fixture)
from tests.test_cli_imports import CLASS_ARGS
from tests.xlsx_files import ROSTER_SAMPLE

PHONE = "13912340001"


class AuditDown(Exception):
    pass


@contextmanager
def failing_audit() -> Iterator[None]:
    """Every insert into the audit log fails, as a full disk or a lost connection would make it."""
    def refuse(*_):
        raise AuditDown("audit insert failed")

    event.listen(AuditEntry, "before_insert", refuse)
    try:
        yield
    finally:
        event.remove(AuditEntry, "before_insert", refuse)


def audit_rows(app, action: str) -> list[tuple[str, str, str]]:
    with app.app_context():
        rows = db.session.execute(select(AuditEntry.actor, AuditEntry.target, AuditEntry.detail)
                                  .where(AuditEntry.action == action)).all()
        return [tuple(row) for row in rows]


def bound(app, trainee_id: int) -> bool:
    with app.app_context():
        return db.session.scalar(select(WechatUser.id).where(WechatUser.trainee_id == trainee_id)) is not None


def test_an_unbind_whose_audit_insert_fails_leaves_the_binding_in_place(app):
    trainee_id = factories.trainee(app, phone=PHONE, openid="oBound0001")
    console = console_on(app)
    console.post("/admin/trainees", data={"q": "周"})  # the console's CSRF token, fetched before the fault
    with failing_audit():
        answer = console.post(f"/admin/trainees/{trainee_id}/unbind", data={"reason": "学员更换手机"})
    assert answer.status_code == 500 and "Traceback" not in answer.get_data(as_text=True)
    assert bound(app, trainee_id)
    with failing_audit(), pytest.raises(AuditDown):
        app.test_cli_runner().invoke(args=["trainee", "unbind", PHONE, "--by", "王老师", "--reason", "换手机"],
                                     catch_exceptions=False)
    assert bound(app, trainee_id)
    assert audit_rows(app, "trainee_unbound") == []


def test_a_cli_unbind_is_in_the_audit_log_with_its_by(app, runner):
    trainee_id = factories.trainee(app, phone=PHONE, openid="oBound0001")
    result = runner.invoke(args=["trainee", "unbind", PHONE, "--by", "王老师", "--reason", "学员更换手机"])
    assert result.exit_code == 0, result.output
    [(actor, target, detail)] = audit_rows(app, "trainee_unbound")
    assert (actor, target) == ("王老师", f"trainee:{trainee_id}") and "学员更换手机" in detail


def test_a_cli_unlock_is_recorded_with_the_os_user_without_by(app, runner):
    factories.trainee(app, phone=PHONE)
    assert runner.invoke(args=["trainee", "unlock", PHONE]).exit_code == 0
    assert [actor for actor, _, _ in audit_rows(app, "binding_unlocked")] == [getpass.getuser()]


def test_a_cli_void_is_in_the_audit_log_with_its_by(app, runner, passed_attempt):  # noqa: F811
    result = runner.invoke(args=["exam", "void", str(passed_attempt), "--by", "王老师", "--reason", "照片与本人不符"])
    assert result.exit_code == 0, result.output
    [(actor, target, detail)] = audit_rows(app, "exam_voided")
    assert (actor, target) == ("王老师", f"attempt:{passed_attempt}") and "照片与本人不符" in detail


def test_a_refused_cli_void_records_nothing(app, runner, passed_attempt):  # noqa: F811
    result = runner.invoke(args=["exam", "void", "999", "--by", "王老师", "--reason", "x"])
    assert result.exit_code == 1 and "没有找到这次考试记录" in result.output
    assert audit_rows(app, "exam_voided") == []


def test_cli_class_create_and_roster_import_are_recorded_with_the_os_user_or_by(app, runner):
    assert runner.invoke(args=CLASS_ARGS).exit_code == 0
    assert runner.invoke(args=CLASS_ARGS).exit_code == 0  # unchanged: nothing done, nothing recorded
    assert runner.invoke(args=["roster", "import", str(ROSTER_SAMPLE), "--by", "李老师"]).exit_code == 0
    [(actor, target, _)] = audit_rows(app, "class_created")
    assert (actor, target) == (getpass.getuser(), "class:SZ2701-JZ")
    [(actor, target, detail)] = audit_rows(app, "roster_imported")
    assert (actor, target) == ("李老师", f"file:{ROSTER_SAMPLE.name}") and detail.startswith("新增 4，")


def test_a_cli_import_of_an_unreadable_file_records_nothing(app, runner, tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a workbook")
    assert runner.invoke(args=["roster", "import", str(bad)]).exit_code == 1
    assert audit_rows(app, "roster_imported") == []


def test_a_cli_staff_create_is_recorded(app, runner):
    result = runner.invoke(args=["staff", "create", "li.ming", "--password", "Jiaowu2027ok", "--by", "chen"])
    assert result.exit_code == 0, result.output
    assert audit_rows(app, "staff_created") == [("chen", "staff:li.ming", "创建教务账号 li.ming")]


def test_a_cli_class_open_notice_is_recorded_with_its_by(make_app, fake_wechat):
    app = make_app(**notify_settings(fake_wechat))
    class_with_trainees(app, bound=1, unbound=1)
    result = app.test_cli_runner().invoke(args=["notify", "class-open", CLASS_CODE, "--by", "王老师"])
    assert result.exit_code == 0, result.output
    assert audit_rows(app, "class_notified") == [("王老师", f"class:{CLASS_CODE}", "开班通知：学员 2 人")]


def test_a_cli_completions_export_is_recorded_with_its_by(app, runner, tmp_path):
    result = runner.invoke(args=["export", "completions", str(tmp_path / "completions.xlsx"), "--by", "王老师"])
    assert result.exit_code == 0, result.output
    assert audit_rows(app, "completions_exported") == [("王老师", "export:completions", "导出结业名单（含完整身份证号）0 条")]
