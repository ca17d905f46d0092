"""Catalog import (CONTRACT §6): one 公共课, one 专业课 per major, lessons keyed by title."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from models import Course, Lesson, db
from services.school.imports import import_catalog
from tests.xlsx_files import CATALOG_SAMPLE, catalog_row, write_catalog


def run_import(app, path):
    with app.app_context():
        return import_catalog(db.session, path)


def catalog(app) -> dict:
    """{course name: (kind, major name, hours required, [(position, title, url, duration, hours)])}."""
    with app.app_context():
        return {
            c.name: (c.kind, c.major.name if c.major else None, c.hours_required,
                     [(x.position, x.title, x.video_url, x.duration_s, x.hours) for x in c.lessons])
            for c in db.session.scalars(select(Course))
        }


def test_sample_catalog_creates_the_public_and_building_courses(app):
    report = run_import(app, CATALOG_SAMPLE)
    assert (report.created, report.updated, report.unchanged, report.rejected) == (18, 0, 0, [])
    courses = catalog(app)
    kind, major, required, lessons = courses["公共课程"]
    assert (kind, major, required) == ("public", None, Decimal(16))
    assert [p for p, *_ in lessons] == list(range(1, 9)) and sum(h for *_, h in lessons) == 16
    assert lessons[0][1:4] == ("第1讲 建设工程法律法规新规解读（1）", "https://media.example.com/pub/01.mp4", 2700)
    kind, major, required, lessons = courses["建筑工程专业课"]
    assert (kind, major, required, len(lessons)) == ("professional", "建筑工程", Decimal(40), 10)
    assert sum(h for *_, h in lessons) == 40


def test_reimporting_the_catalog_changes_nothing(app):
    run_import(app, CATALOG_SAMPLE)
    before = catalog(app)
    report = run_import(app, CATALOG_SAMPLE)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 18)
    assert catalog(app) == before


def test_changed_url_duration_and_hours_update_the_lesson(app, tmp_path):
    run_import(app, write_catalog(tmp_path / "a.xlsx", [catalog_row(title="第1讲"), catalog_row(title="第2讲")]))
    report = run_import(app, write_catalog(tmp_path / "b.xlsx", [
        catalog_row(title="第1讲", url="http://cdn.example.com/1.mp4", duration="1800", hours=1.5),
        catalog_row(title="第2讲"),
    ]))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    lessons = catalog(app)["公共课程"][3]
    assert lessons[0] == (1, "第1讲", "http://cdn.example.com/1.mp4", 1800, Decimal("1.5"))


def test_a_course_keeps_its_slot_when_the_file_renames_it(app, tmp_path):
    run_import(app, write_catalog(tmp_path / "a.xlsx", [catalog_row("专业课", "机电工程", "机电专业课")]))
    with app.app_context():
        first_id = db.session.scalar(select(Course.id))
    report = run_import(app, write_catalog(tmp_path / "b.xlsx", [catalog_row("专业课", "机电工程", "机电工程专业课程")]))
    assert report.updated == 1
    with app.app_context():
        assert db.session.execute(select(Course.id, Course.name)).all() == [(first_id, "机电工程专业课程")]
        assert db.session.scalar(select(func.count()).select_from(Lesson)) == 1


def test_bad_catalog_rows_are_rejected_with_reasons(app, tmp_path):
    rows = [
        catalog_row(title="好"),                                               # row 2
        catalog_row(kind="选修课", title="a"),                                  # 3
        catalog_row(major="建筑工程", title="b"),                                # 4
        catalog_row(kind="专业课", course="专业课", title="c"),                  # 5
        catalog_row(kind="专业课", major="土木工程", course="专业课", title="d"),  # 6
        catalog_row(title="e", url="ftp://media.example.com/e.mp4"),           # 7
        catalog_row(title="f", url="第f讲.mp4"),                                 # 8
        catalog_row(title="g", duration=0),                                    # 9
        catalog_row(title="h", duration=12.5),                                 # 10
        catalog_row(title="i", hours=0),                                       # 11
        catalog_row(title="j", hours="两学时"),                                 # 12
        catalog_row(title=None),                                               # 13
        catalog_row(title="好"),                                               # 14
        catalog_row(course="另一个公共课", title="k"),                           # 15
    ]
    report = run_import(app, write_catalog(tmp_path / "bad.xlsx", rows))
    reasons = dict(report.rejected)
    expected = {3: "课程类型", 4: "公共课不分专业", 5: "专业课须填写专业", 6: "土木工程", 7: "视频地址", 8: "视频地址",
                9: "时长(秒)", 10: "时长(秒)", 11: "学时", 12: "学时", 13: "视频标题为空", 14: "与第2行的视频标题重复",
                15: "课程名称与第2行"}
    assert sorted(reasons) == sorted(expected)
    for number, words in expected.items():
        assert words in reasons[number], (number, reasons[number])
    assert report.created == 1 and [t for _, t, *_ in catalog(app)["公共课程"][3]] == ["好"]


def test_a_professional_course_per_major_each_with_its_own_lessons(app, tmp_path):
    rows = [catalog_row("专业课", major, f"{major}专业课", "第1讲") for major in ("建筑工程", "市政公用工程")]
    report = run_import(app, write_catalog(tmp_path / "two.xlsx", [catalog_row(title="第1讲"), *rows]))
    assert report.created == 3
    courses = catalog(app)
    assert courses["市政公用工程专业课"][:3] == ("professional", "市政公用工程", Decimal(40))
    assert len(courses["建筑工程专业课"][3]) == 1 and len(courses["公共课程"][3]) == 1
