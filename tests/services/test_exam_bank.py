"""The question bank import (`exam import`, CONTRACT §7) and the paper rules file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from models import db
from models.exam import ExamQuestion
from services.exam import rules as exam_rules
from services.exam.bank import SAMPLE_BANK, import_bank
from services.school.imports import UnreadableFile
from tests.xlsx_files import write_xlsx
from wxapp import config

HEADER = ["专业", "题型", "题干", "选项A", "选项B", "选项C", "选项D", "选项E", "选项F", "答案", "解析"]


def row(major=None, kind="单选", stem="下列说法正确的是", options=("甲", "乙", "丙", "丁"), answer="C", note=None):
    options = list(options) + [None] * (6 - len(options))
    return [major, kind, stem, *options, answer, note]


def run_import(app, path):
    with app.app_context():
        return import_bank(db.session, path, config.of(app).exam_rules)


def questions(app):
    with app.app_context():
        return {(q.pool, q.stem): (q.kind, q.options, q.answer, q.explanation)
                for q in db.session.query(ExamQuestion)}


def test_import_reads_every_type_and_pool_and_is_idempotent(app, tmp_path):
    path = write_xlsx(tmp_path / "bank.xlsx", HEADER, [
        row(),
        row(major="公共", kind="多选", stem="多选题", options=("甲", "乙", "丙", "丁", "戊"), answer="A, C，E"),
        row(major="建筑工程", kind="判断", stem="混凝土需要养护", options=(), answer="√"),
        row(major="矿业工程", kind="判断题", stem="井下无需通风", options=("正确", "错误"), answer="B", note="必须通风"),
    ], titles=[["二级建造师继续教育题库"], []])
    report = run_import(app, path)
    assert (report.created, report.updated, report.unchanged, report.rejected) == (4, 0, 0, [])
    assert questions(app) == {
        ("public", "下列说法正确的是"): ("single", ["甲", "乙", "丙", "丁"], "C", None),
        ("public", "多选题"): ("multi", ["甲", "乙", "丙", "丁", "戊"], "ACE", None),
        ("building", "混凝土需要养护"): ("judge", [], "T", None),
        ("mining", "井下无需通风"): ("judge", [], "F", "必须通风"),
    }
    again = run_import(app, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


def test_a_changed_answer_or_option_updates_the_same_question(app, tmp_path):
    run_import(app, write_xlsx(tmp_path / "a.xlsx", HEADER, [row()]))
    report = run_import(app, write_xlsx(tmp_path / "b.xlsx", HEADER, [row(options=("甲", "乙", "丙", "己"), answer="D")]))
    assert (report.created, report.updated) == (0, 1)
    assert questions(app)[("public", "下列说法正确的是")][1:3] == (["甲", "乙", "丙", "己"], "D")


def test_rejected_rows_say_why_with_their_row_number(app, tmp_path):
    path = write_xlsx(tmp_path / "bad.xlsx", HEADER, [
        row(major="园林工程"),                                   # 2
        row(kind="问答"),                                        # 3
        row(stem=None),                                          # 4
        row(options=("甲", None, "丙")),                         # 5
        row(answer="E"),                                         # 6
        row(kind="多选", answer="A"),                            # 7
        row(kind="判断", stem="判断", options=("是的", "不是"), answer="A"),  # 8
        row(stem="重复"), row(stem="重复"),                       # 9, 10
    ])
    report = run_import(app, path)
    reasons = dict(report.rejected)
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8, 10] and report.created == 1
    assert "不是六个专业之一" in reasons[2] and "题型" in reasons[3] and "题干为空" in reasons[4]
    assert "连续" in reasons[5] and "答案应为选项字母" in reasons[6] and "至少有两个" in reasons[7]
    assert "对" in reasons[8] and "重复" in reasons[10]


def test_a_pool_short_of_what_the_rules_draw_is_named(app, tmp_path):
    report = run_import(app, write_xlsx(tmp_path / "few.xlsx", HEADER, [row()]))
    assert "公共 单选题 1 道，少于每次抽取的 8 道" in report.short
    assert "建筑工程 判断题 0 道，少于每次抽取的 14 道" in report.short


def test_sample_bank_fills_every_pool_for_the_default_rules(app):
    report = run_import(app, SAMPLE_BANK)
    assert report.rejected == [] and report.short == [] and report.created >= 7 * 17


def test_cli_import_prints_counts_rejections_and_shortages(app, tmp_path):
    path = write_xlsx(tmp_path / "cli.xlsx", HEADER, [row(), row(major="园林工程")])
    result = app.test_cli_runner().invoke(args=["exam", "import", str(path)])
    assert result.exit_code == 0
    assert "新增 1，更新 0，未变 0，拒绝 1" in result.output and "第3行：" in result.output
    assert "题库不足" in result.output
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a workbook")
    result = app.test_cli_runner().invoke(args=["exam", "import", str(broken)])
    assert result.exit_code == 1


def test_unreadable_file_raises(app, tmp_path):
    with pytest.raises(UnreadableFile):
        run_import(app, tmp_path / "missing.xlsx")


RULES = {"public": {"single": 8, "multi": 3, "judge": 6}, "major": {"single": 17, "multi": 7, "judge": 14},
         "points": {"single": 2, "multi": 3, "judge": 1}, "pass_score": 60, "time_limit_min": 60}


def test_default_rules_total_100_and_pass_at_60():
    rules = exam_rules.load(Path(__file__).resolve().parents[2] / "exam_rules.json")
    assert (rules.total_points, rules.pass_score, rules.time_limit_s) == (100, 60, 3600)


@pytest.mark.parametrize("change,words", [
    ({"points": {"single": 2, "multi": 3, "judge": 2}}, "totals 120 points"),
    ({"pass_score": 50}, "pass_score must be 60"),
    ({"major": {"single": -1}}, "whole numbers"),
    ({"time_limit_min": 0}, "time_limit_min"),
    ({"major": {"essay": 3}}, "must map"),
])
def test_bad_rules_stop_the_start_with_one_line(make_app, tmp_path, capsys, change, words):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({**RULES, **change}))
    with pytest.raises(SystemExit):
        make_app(EXAM_RULES_FILE=path)
    assert words in capsys.readouterr().err
