"""The catalog's second sheet 课后练习: questions per lesson, answers as letters, idempotent."""
from __future__ import annotations

import json

from openpyxl import Workbook
from sqlalchemy import select

from models import ExerciseQuestion, Lesson, db
from services.school.imports import import_catalog
from tests.xlsx_files import CATALOG_HEADER, CATALOG_SAMPLE, catalog_row

EXERCISE_HEADER = ["视频标题", "题型", "题干", "选项A", "选项B", "选项C", "选项D", "选项E", "选项F", "答案"]


def write(path, lessons: list[list], questions: list[list] | None):
    workbook = Workbook()
    workbook.active.title = "课程"
    for row in [CATALOG_HEADER, *lessons]:
        workbook.active.append(row)
    if questions is not None:
        sheet = workbook.create_sheet("课后练习")
        for row in [["某公司课后练习题"], EXERCISE_HEADER, *questions]:
            sheet.append(row)
    workbook.save(path)
    return path


def question(title="第1讲", kind="单选", stem="题目", options=("甲", "乙", "丙", "丁"), answer="C") -> list:
    cells = list(options) + [None] * (6 - len(options))
    return [title, kind, stem, *cells, answer]


def run(app, path):
    with app.app_context():
        return import_catalog(db.session, path)


def questions(app) -> dict[str, list[tuple]]:
    with app.app_context():
        rows = db.session.execute(select(Lesson.title, ExerciseQuestion).join(ExerciseQuestion.__table__,
                                  ExerciseQuestion.lesson_id == Lesson.id).order_by(Lesson.id, ExerciseQuestion.position))
        found: dict[str, list[tuple]] = {}
        for title, q in rows:
            found.setdefault(title, []).append((q.position, q.kind, q.stem, json.loads(q.options), q.answer))
        return found


def test_sample_exercises_attach_to_their_lessons(app):
    report = run(app, CATALOG_SAMPLE)
    assert (report.exercises.created, report.exercises.rejected) == (3, [])
    found = questions(app)
    public = found["第1讲 建设工程法律法规新规解读（1）"]
    assert public == [(1, "single", "二级注册建造师注册证书有效期为几年？", ["2年", "3年", "4年", "5年"], "C"),
                      (2, "judge", "注册两个以上专业的建造师只需参加一次公共课培训。", ["对", "错"], "A")]
    assert found["第1讲 装配式建筑施工技术（1）"][0][1::3] == ("multi", "ABC")
    again = run(app, CATALOG_SAMPLE)
    assert (again.exercises.created, again.exercises.updated, again.exercises.unchanged) == (0, 0, 3)
    assert questions(app) == found


def test_a_lesson_named_in_the_sheet_gets_exactly_its_rows(app, tmp_path):
    lessons = [catalog_row(title="第1讲"), catalog_row(title="第2讲")]
    run(app, write(tmp_path / "a.xlsx", lessons, [question(), question(stem="二"), question(title="第2讲")]))
    report = run(app, write(tmp_path / "b.xlsx", lessons, [question(answer="D")]))
    assert (report.exercises.created, report.exercises.updated) == (0, 1)
    found = questions(app)
    assert [q[4] for q in found["第1讲"]] == ["D"]  # the second question is gone
    assert len(found["第2讲"]) == 1  # not named: kept


def test_a_workbook_without_the_sheet_changes_no_exercise(app, tmp_path):
    lessons = [catalog_row(title="第1讲")]
    run(app, write(tmp_path / "a.xlsx", lessons, [question()]))
    report = run(app, write(tmp_path / "b.xlsx", lessons, None))
    assert report.exercises is None and len(questions(app)["第1讲"]) == 1


def test_answers_are_read_as_people_type_them(app, tmp_path):
    rows = [question(kind="多选", answer="a, c、D"), question(kind="判断题", options=(), answer="错"),
            question(kind="判断", options=("正确", "错误"), answer="正确"), question(kind="判断", options=(), answer="B")]
    report = run(app, write(tmp_path / "a.xlsx", [catalog_row(title="第1讲")], rows))
    assert report.exercises.rejected == []
    assert [(q[1], q[4]) for q in questions(app)["第1讲"]] == [("multi", "ACD"), ("judge", "B"), ("judge", "A"),
                                                              ("judge", "B")]


def test_bad_exercise_rows_are_rejected_with_reasons(app, tmp_path):
    lessons = [catalog_row(title="第1讲"), catalog_row("专业课", "建筑工程", "建筑工程专业课", "第1讲"),
               catalog_row(title="第2讲")]
    rows = [
        question(title="第9讲"),                              # 3
        question(title="第1讲"),                              # 4: in two courses
        question(title="第2讲", kind="问答"),                  # 5
        question(title="第2讲", options=("甲", None, "丙")),    # 6
        question(title="第2讲", answer="E"),                   # 7
        question(title="第2讲", answer="AB"),                  # 8
        question(title="第2讲", kind="多选", answer="B"),       # 9
        question(title="第2讲", kind="判断", options=(), answer="也许"),  # 10
        question(title="第2讲", stem=None),                    # 11
        question(title="第2讲", options=("甲",), answer="A"),   # 12
        question(title="第2讲"),                              # 13: fine
    ]
    report = run(app, write(tmp_path / "bad.xlsx", lessons, rows))
    reasons = dict(report.exercises.rejected)
    expected = {3: "没有标题为“第9讲”", 4: "不止一个", 5: "题型", 6: "连续填写", 7: "答案应为选项字母", 8: "只能有一个",
                9: "至少有两个", 10: "判断题的答案", 11: "题干为空", 12: "至少需要两个选项"}
    assert sorted(reasons) == sorted(expected)
    for number, words in expected.items():
        assert words in reasons[number], (number, reasons[number])
    assert report.exercises.created == 1
