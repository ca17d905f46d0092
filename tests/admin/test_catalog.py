"""The catalog on the console: upload, preview (nothing written), confirm; a second catalog is
told when a course's lessons no longer hold its hours, and never interleaves; the lessons' order;
retiring and restoring a lesson, and a catalog that revives a retired one."""
from __future__ import annotations

import io
from datetime import UTC, datetime

from sqlalchemy import select

from models import AuditEntry, Course, Lesson, db
from services.school.imports import import_catalog
from tests.admin.conftest import csrf
from tests.xlsx_files import CATALOG_SAMPLE, catalog_row, write_catalog


def _upload(console, path):
    with open(path, "rb") as fh:
        return console.post("/admin/catalog", data={"file": (io.BytesIO(fh.read()), "课程目录.xlsx")},
                            content_type="multipart/form-data")


def _lessons(app, course_name: str = "公共课程") -> list[tuple[int, str]]:
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.name == course_name))
        return [(lesson.position, lesson.title) for lesson in course.lessons]


def _token(page: str) -> str:
    return page.split('name="token" value="', 1)[1].split('"', 1)[0]


def test_upload_previews_writes_nothing_then_confirm_imports_and_records(app, console):
    preview = _upload(console, CATALOG_SAMPLE)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "确认导入 18 行" in page and "请注意" not in page
    with app.app_context():
        assert db.session.query(Lesson).count() == 0  # the preview wrote nothing
    done = console.post("/admin/catalog/confirm", data={"token": _token(page), "filename": "课程目录.xlsx"},
                        follow_redirects=True).get_data(as_text=True)
    assert "已导入课程目录：新增 18" in done and "公共课程（要求 16 学时，视频课时合计 16 学时）" in done
    with app.app_context():
        assert db.session.query(Lesson).count() == 18
        entry = db.session.query(AuditEntry).filter_by(action="catalog_imported").one()
        assert entry.actor == "wang" and "新增 18" in entry.detail
    again = console.post("/admin/catalog/confirm", data={"token": _token(page)}, follow_redirects=True)
    assert "已过期或不存在" in again.get_data(as_text=True)


def test_a_second_catalog_is_told_about_the_hours_and_keeps_its_own_order(app, console, tmp_path):
    first = write_catalog(tmp_path / "a.xlsx", [catalog_row(title=f"旧{n}", hours=8) for n in (1, 2)])
    second = write_catalog(tmp_path / "b.xlsx", [catalog_row(title=f"新{n}", hours=8) for n in (1, 2)])
    with app.app_context():
        assert import_catalog(db.session, first).warnings == []
    page = _upload(console, second).get_data(as_text=True)
    assert "课程“公共课程”的视频课时共 32 学时，超过该课程要求的 16 学时" in page
    assert "其中 2 个视频课时不在本文件中，为以前导入的（旧1、旧2）" in page
    assert _lessons(app) == [(1, "旧1"), (2, "旧2")]  # previewed only
    done = console.post("/admin/catalog/confirm", data={"token": _token(page), "filename": "b.xlsx"},
                        follow_redirects=True).get_data(as_text=True)
    assert "注意：课程“公共课程”的视频课时共 32 学时" in done
    assert _lessons(app) == [(1, "新1"), (2, "新2"), (3, "旧1"), (4, "旧2")]  # not interleaved
    with app.app_context():
        assert "超过该课程要求的 16 学时" in db.session.query(AuditEntry).filter_by(action="catalog_imported").one().detail


def test_too_few_hours_are_told_too(app, tmp_path):
    with app.app_context():
        report = import_catalog(db.session, write_catalog(tmp_path / "a.xlsx", [catalog_row(hours=2)]))
    assert report.warnings == ["课程“公共课程”的视频课时共 2 学时，少于该课程要求的 16 学时：学员仅靠在用的视频课时无法修满该课程（已学过停用课时的学员，所得学时仍然有效）"]


def test_cli_prints_the_warning(app, runner, tmp_path):
    result = runner.invoke(args=["catalog", "import", str(write_catalog(tmp_path / "a.xlsx", [catalog_row(hours=2)]))])
    assert result.exit_code == 0 and "注意：课程“公共课程”的视频课时共 2 学时，少于" in result.output


def test_cli_says_which_retired_lessons_it_revives(app, runner, tmp_path):
    path = write_catalog(tmp_path / "a.xlsx", [catalog_row(hours=16)])
    assert runner.invoke(args=["catalog", "import", str(path)]).exit_code == 0
    with app.app_context():
        db.session.query(Lesson).one().retired_at = datetime.now(UTC)
        db.session.commit()
    result = runner.invoke(args=["catalog", "import", str(path)])
    assert result.exit_code == 0 and "1 个已停用的视频课时已恢复为在用，学员将重新看到：公共课程：第1讲" in result.output


def test_lessons_move_up_and_down_recorded_and_not_past_the_ends(app, console, tmp_path):
    with app.app_context():
        import_catalog(db.session, write_catalog(tmp_path / "a.xlsx", [catalog_row(title=t, hours=8)
                                                                        for t in ("甲", "乙")]))
        ids = {lesson.title: lesson.id for lesson in db.session.query(Lesson)}
    console.post(f"/admin/catalog/lessons/{ids['乙']}/move", data={"to": "up"})
    assert _lessons(app) == [(1, "乙"), (2, "甲")]
    page = console.post(f"/admin/catalog/lessons/{ids['乙']}/move", data={"to": "up"}, follow_redirects=True)
    assert "“乙”已在最前" in page.get_data(as_text=True) and _lessons(app) == [(1, "乙"), (2, "甲")]
    with app.app_context():
        (entry,) = db.session.query(AuditEntry).filter_by(action="lesson_moved").all()
        assert entry.actor == "wang" and "“乙”上移到第 1 位" in entry.detail
    assert console.post("/admin/catalog/lessons/9999/move", data={"to": "up"}, follow_redirects=True).status_code == 200


def test_a_file_that_is_not_xlsx_is_refused_in_words(console):
    response = console.post("/admin/catalog", data={"file": (io.BytesIO(b"hello"), "a.csv")},
                            content_type="multipart/form-data")
    assert response.status_code == 400 and "不是 Excel .xlsx 格式" in response.get_data(as_text=True)
    assert "请选择要上传的课程目录" in console.post("/admin/catalog", data={}).get_data(as_text=True)


def test_lessons_retire_and_restore_from_the_page_recorded_greyed_while_retired(app, console, tmp_path):
    with app.app_context():
        import_catalog(db.session, write_catalog(tmp_path / "a.xlsx", [catalog_row(title=t, hours=8)
                                                                        for t in ("甲", "乙")]))
        ids = {lesson.title: lesson.id for lesson in db.session.query(Lesson)}
    page = console.text("/admin/catalog")
    assert f'action="/admin/catalog/lessons/{ids["甲"]}/retire"' in page and "已停用" not in page
    done = console.post(f"/admin/catalog/lessons/{ids['甲']}/retire", follow_redirects=True).get_data(as_text=True)
    assert "已停用“甲”：学员不再看到、也不能开始学习这个视频课时" in done
    assert "注意：课程“公共课程”的视频课时共 8 学时，少于该课程要求的 16 学时" in done
    row = done.split(f'<tr id="lesson-{ids["甲"]}"', 1)[1].split("</tr>", 1)[0]
    assert row.startswith(' class="lesson-retired table-secondary text-muted"') and "已停用" in row
    assert f'/admin/catalog/lessons/{ids["甲"]}/restore' in row and "/retire" not in row and "/move" not in row
    assert "视频课时合计 8 学时，另有 1 个已停用" in done
    again = console.post(f"/admin/catalog/lessons/{ids['甲']}/retire", follow_redirects=True)
    assert "“甲”已停用" in again.get_data(as_text=True)
    back = console.post(f"/admin/catalog/lessons/{ids['甲']}/restore", follow_redirects=True).get_data(as_text=True)
    assert "已恢复“甲”：学员可以重新学习这个视频课时" in back and "已停用" not in back
    with app.app_context():
        entries = db.session.query(AuditEntry).filter(AuditEntry.action.in_(["lesson_retired", "lesson_restored"]))
        assert [(e.actor, e.action, e.target) for e in entries.order_by(AuditEntry.id)] == [
            ("wang", "lesson_retired", f"lesson:{ids['甲']}"), ("wang", "lesson_restored", f"lesson:{ids['甲']}")]


def test_retire_needs_a_staff_session_and_the_csrf_token(app, console, tmp_path):
    with app.app_context():
        import_catalog(db.session, write_catalog(tmp_path / "a.xlsx", [catalog_row(hours=16)]))
        lesson_id = db.session.query(Lesson).one().id
    stranger = app.test_client()
    answer = stranger.post(f"/admin/catalog/lessons/{lesson_id}/retire", data={"csrf_token": csrf(stranger)})
    assert answer.status_code == 302 and "/admin/login" in answer.headers["Location"]
    forged = console.client.post(f"/admin/catalog/lessons/{lesson_id}/retire", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    with app.app_context():
        assert db.session.get(Lesson, lesson_id).retired_at is None


def test_a_catalog_upload_that_lists_a_retired_lesson_again_says_it_revives_it(app, console, tmp_path):
    path = write_catalog(tmp_path / "a.xlsx", [catalog_row(title=t, hours=8) for t in ("甲", "乙")])
    with app.app_context():
        import_catalog(db.session, path)
        lesson_id = db.session.query(Lesson).filter_by(title="甲").one().id
    console.post(f"/admin/catalog/lessons/{lesson_id}/retire")
    page = _upload(console, path).get_data(as_text=True)
    assert "1 个已停用的视频课时导入后将恢复为在用，学员将重新看到：公共课程：甲" in page and "确认导入 1 行" in page
    done = console.post("/admin/catalog/confirm", data={"token": _token(page), "filename": "a.xlsx"},
                        follow_redirects=True).get_data(as_text=True)
    assert "1 个已停用的视频课时已恢复为在用" in done
    with app.app_context():
        assert db.session.get(Lesson, lesson_id).retired_at is None
        assert "已恢复为在用" in db.session.query(AuditEntry).filter_by(action="catalog_imported").one().detail


def test_a_move_steps_over_retired_lessons(app, console, tmp_path):
    with app.app_context():
        import_catalog(db.session, write_catalog(tmp_path / "a.xlsx", [catalog_row(title=t, hours=4)
                                                                        for t in ("甲", "乙", "丙", "丁")]))
        ids = {lesson.title: lesson.id for lesson in db.session.query(Lesson)}
    console.post(f"/admin/catalog/lessons/{ids['乙']}/retire")
    console.post(f"/admin/catalog/lessons/{ids['丙']}/move", data={"to": "up"})
    assert _lessons(app) == [(1, "丙"), (2, "乙"), (3, "甲"), (4, "丁")]  # trainees see 丙 甲 丁
    with app.app_context():
        assert "“丙”上移到第 1 位" in db.session.query(AuditEntry).filter_by(action="lesson_moved").one().detail
    page = console.post(f"/admin/catalog/lessons/{ids['丁']}/move", data={"to": "down"}, follow_redirects=True)
    assert "“丁”已在最后" in page.get_data(as_text=True)
