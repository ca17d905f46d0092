"""Retiring a lesson (停用): staff retire and restore it, recorded; trainees no longer see, start or
get it offered as the next one, and the hours they earned on it still count (the course's, the
exam's). A retired lesson a catalog imports again is revived, and the hours warning counts active
lessons only."""
from __future__ import annotations

from decimal import Decimal

import pytest

from models import AuditEntry, Lesson, db
from services.exam.state import exams_for
from services.school import catalog
from services.school.imports import import_catalog
from services.study import learning, study_records
from services.study.player import LessonRetired
from tests import factories
from tests.exam_util import full_hours
from tests.services.test_earned_hours import complete
from tests.study_util import T0, beat, lesson, player
from tests.xlsx_files import catalog_row, write_catalog


def retire(app, lesson_id: int, actor: str = "wang") -> catalog.Retirement:
    with app.app_context():
        return catalog.retire_lesson(db.session, lesson_id, actor)


def restore(app, lesson_id: int, actor: str = "wang") -> catalog.Retirement:
    with app.app_context():
        return catalog.restore_lesson(db.session, lesson_id, actor)


def retired_at(app, lesson_id: int):
    with app.app_context():
        return db.session.get(Lesson, lesson_id).retired_at


def test_retire_and_restore_are_recorded_with_who_studied_it_and_the_hours_left(app):
    first, second = (lesson(app, hours=8, title=f"第{i}讲") for i in (1, 2))
    done_id = factories.trainee(app)
    started_id = factories.trainee(app, name="吴二", phone="13912340002", id_card="32058319751212108X")
    complete(app, done_id, first)
    complete(app, started_id, first, done=False)
    done = retire(app, first)
    assert (done.retired, done.title, done.studied, done.earned) == (True, "第1讲", 2, 1)
    assert done.warning == "课程“公共课程”的视频课时共 8 学时，少于该课程要求的 16 学时：学员仅靠在用的视频课时无法修满该课程（已学过停用课时的学员，所得学时仍然有效）"
    assert retired_at(app, first) is not None and retired_at(app, second) is None
    back = restore(app, first, actor="chen")
    assert (back.retired, back.warning) == (False, None) and retired_at(app, first) is None
    with app.app_context():
        entries = db.session.query(AuditEntry).order_by(AuditEntry.id).all()
        assert [(e.actor, e.action, e.target) for e in entries] == [
            ("wang", "lesson_retired", f"lesson:{first}"), ("chen", "lesson_restored", f"lesson:{first}")]
        assert entries[0].detail.startswith("公共课程：“第1讲”停用；学过的学员 2 名，其中已获得学时 1 名；课程“公共课程”")
        assert entries[1].detail == "公共课程：“第1讲”恢复；学过的学员 2 名，其中已获得学时 1 名"


def test_retiring_twice_restoring_an_active_lesson_or_an_unknown_one_is_refused_in_words(app):
    lesson_id = lesson(app)
    retire(app, lesson_id)
    with pytest.raises(catalog.CatalogError, match="“第1讲 法规”已停用"):
        retire(app, lesson_id)
    restore(app, lesson_id)
    with pytest.raises(catalog.CatalogError, match="未停用，无需恢复"):
        restore(app, lesson_id)
    with pytest.raises(catalog.CatalogError, match="没有这个视频课时"):
        retire(app, 9999)
    with app.app_context():
        assert db.session.query(AuditEntry).count() == 2  # the refusals recorded nothing


def test_trainees_no_longer_see_a_retired_lesson_but_keep_its_hours(app):
    first, second, third = (lesson(app, hours=h, title=f"第{i}讲") for i, h in ((1, 6), (2, 5), (3, 5)))
    trainee_id = factories.trainee(app)
    complete(app, trainee_id, first)
    retire(app, first)
    retire(app, second)
    with app.app_context():
        detail = learning.course_details(db.session, trainee_id)[0]
        assert [le.title for le in detail.lessons] == ["第3讲"]
        assert detail.hours_earned == Decimal(6)  # earned on the retired 第1讲
        assert learning.courses(db.session, trainee_id)[0].hours_earned == Decimal(6)
        assert learning.next_lesson(db.session, first) == learning.NextLesson(third, "第3讲")  # 第2讲 skipped
        assert learning.next_lesson(db.session, third) is None
        assert learning.lesson_for(db.session, trainee_id, first).retired
        assert not learning.lesson_for(db.session, trainee_id, third).retired
        # staff still see the record of the retired lesson, marked as retired
        [record] = study_records.lesson_records(db.session, trainee_id)
        assert (record.title, record.retired, record.completed_at is not None) == ("第1讲", True, True)


def test_hours_earned_on_a_retired_lesson_still_open_the_exam(app):
    trainee_id = factories.trainee(app)
    full_hours(app, trainee_id)
    with app.app_context():
        ids = [x.id for x in db.session.query(Lesson).order_by(Lesson.id)]
    for lesson_id in ids:
        retire(app, lesson_id)
    with app.app_context():
        line = exams_for(db.session, trainee_id)[0]
        assert learning.course_details(db.session, trainee_id)[0].lessons == []
    assert (line.state, line.missing) == ("open", [])


def test_the_player_opens_no_new_page_of_a_retired_lesson_but_a_page_already_open_keeps_earning(app):
    lesson_id = lesson(app, duration_s=100)
    trainee_id = factories.trainee(app)
    with app.app_context():
        page = player(app).open_page(trainee_id, "oRetire", lesson_id, T0)
    retire(app, lesson_id)
    with app.app_context():
        p = player(app)
        p.heartbeat("oRetire", beat(lesson_id, 0, page.tab), T0 + 1)
        assert p.heartbeat("oRetire", beat(lesson_id, 15, page.tab), T0 + 16).max_position == 15
        with pytest.raises(LessonRetired, match="该课程已停用，请学习其他课程。"):
            p.open_page(trainee_id, "oRetire", lesson_id, T0 + 20)
        # the refused open left the open page as it was: it still owns the player
        assert p.heartbeat("oRetire", beat(lesson_id, 30, page.tab), T0 + 31).max_position == 30
    restore(app, lesson_id)
    with app.app_context():
        assert player(app).open_page(trainee_id, "oRetire", lesson_id, T0 + 40).tab != page.tab


def test_a_catalog_that_lists_a_retired_lesson_again_revives_it_and_the_preview_says_so(app, tmp_path):
    path = write_catalog(tmp_path / "a.xlsx", [catalog_row(title=t, hours=8) for t in ("甲", "乙")])
    with app.app_context():
        import_catalog(db.session, path)
        ids = {x.title: x.id for x in db.session.query(Lesson)}
    retire(app, ids["甲"])
    with app.app_context():
        preview = import_catalog(db.session, path, dry_run=True)
    assert preview.revived == ["公共课程：甲"] and (preview.updated, preview.unchanged) == (1, 1)
    assert preview.revived_text(done=False) == "1 个已停用的视频课时导入后将恢复为在用，学员将重新看到：公共课程：甲"
    assert retired_at(app, ids["甲"]) is not None  # previewed only
    with app.app_context():
        report = import_catalog(db.session, path)
    assert report.revived == ["公共课程：甲"] and report.warnings == []
    assert retired_at(app, ids["甲"]) is None
    with app.app_context():
        assert import_catalog(db.session, path).revived == []  # once revived, an import changes nothing


def test_the_hours_warning_counts_active_lessons_only(app, tmp_path):
    old = write_catalog(tmp_path / "old.xlsx", [catalog_row(title=f"旧{n}", hours=8) for n in (1, 2)])
    new = write_catalog(tmp_path / "new.xlsx", [catalog_row(title=f"新{n}", hours=8) for n in (1, 2)])
    with app.app_context():
        import_catalog(db.session, old)
        ids = {x.title: x.id for x in db.session.query(Lesson)}
    retire(app, ids["旧1"])
    with app.app_context():
        (warning,) = import_catalog(db.session, new, dry_run=True).warnings
    # 旧2 still counts (active, kept from before); the retired 旧1 neither in the total nor in the list
    assert warning.startswith("课程“公共课程”的视频课时共 24 学时，超过该课程要求的 16 学时；"
                              "其中 1 个视频课时不在本文件中，为以前导入的（旧2）")
    retire(app, ids["旧2"])
    with app.app_context():
        report = import_catalog(db.session, new)
        assert report.warnings == []  # 16 active hours, as required: the two retired ones don't count
        assert [(x.position, x.title, x.retired) for x in db.session.query(Lesson).order_by(Lesson.position)] == [
            (1, "新1", False), (2, "新2", False), (3, "旧1", True), (4, "旧2", True)]
