"""`export completions FILE.xlsx [--from] [--to] [--major]` (CONTRACT §8): where it wrote, the warning
about full ID card numbers, and clear refusals for what an operator may mistype."""
from __future__ import annotations

import pytest
from openpyxl import load_workbook

from tests import factories
from tests.completion_util import complete


@pytest.fixture
def two_majors(app):
    trainee = factories.trainee(app, majors=(("建筑工程", "main"), ("市政公用工程", "added")))
    return complete(app, trainee), complete(app, trainee, major="市政公用工程")


def test_export_says_where_it_wrote_and_warns_about_full_id_cards(app, runner, two_majors, tmp_path):
    target = tmp_path / "结业名单.xlsx"
    result = runner.invoke(args=["export", "completions", str(target)])
    assert result.exit_code == 0, result.output
    assert f"已导出 2 条结业记录到 {target}" in result.stdout
    assert "完整的身份证号" in result.stderr
    assert load_workbook(target).worksheets[0].max_row == 3


def test_major_and_date_options_filter(app, runner, two_majors, tmp_path):
    target = tmp_path / "out.xlsx"
    result = runner.invoke(args=["export", "completions", str(target), "--major", "市政公用工程",
                                 "--from", "2027-03-20", "--to", "2027-03-20"])
    assert result.exit_code == 0 and "已导出 1 条" in result.stdout
    sheet = load_workbook(target).worksheets[0]
    assert sheet.cell(2, 5).value == "市政公用工程" and sheet.cell(2, 12).value == two_majors[1]
    result = runner.invoke(args=["export", "completions", str(target), "--to", "2027-03-19"])
    assert "已导出 0 条" in result.stdout and load_workbook(target).worksheets[0].max_row == 1


@pytest.mark.parametrize("args, message", [
    (["--from", "2027-13-01"], "--from 应为 YYYY-MM-DD"),
    (["--to", "明天"], "--to 应为 YYYY-MM-DD"),
    (["--major", "土木"], "没有“土木”这个专业"),
    (["--from", "2027-04-01", "--to", "2027-03-01"], "起始日期晚于截止日期"),
])
def test_mistyped_options_are_refused_clearly(app, runner, tmp_path, args, message):
    target = tmp_path / "out.xlsx"
    result = runner.invoke(args=["export", "completions", str(target), *args])
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output and not target.exists()


def test_an_unwritable_place_is_refused_clearly(app, runner, tmp_path):
    result = runner.invoke(args=["export", "completions", str(tmp_path / "missing" / "out.xlsx")])
    assert result.exit_code == 1 and "目录不存在" in result.output
    result = runner.invoke(args=["export", "completions", str(tmp_path / "out.csv")])
    assert result.exit_code != 0 and ".xlsx" in result.output
