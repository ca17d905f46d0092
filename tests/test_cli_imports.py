"""Staff commands: roster / catalog import, class create, demo load — counts, lines, exit codes."""
from __future__ import annotations

import re

from tests.xlsx_files import CATALOG_SAMPLE, ROSTER_SAMPLE

CLASS_ARGS = ["class", "create", "SZ2701-JZ", "--major", "建筑工程", "--name", "2027年第1期建筑工程班",
              "--starts", "2027-03-01 09:00", "--place", "苏州市姑苏区人民路100号培训楼"]
CLEAR_VALUES = ("320505198001010017", "32058319751212108", "13912340001", "13912340002", "13912340005")


def assert_no_personal_data(output: str) -> None:
    for value in CLEAR_VALUES:
        assert value not in output


def test_roster_import_prints_counts_and_one_line_per_rejected_row(runner):
    result = runner.invoke(args=["roster", "import", str(ROSTER_SAMPLE)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "新增 3，更新 0，未变 0，拒绝 6"
    assert [line.split("：", 1)[0] for line in lines[1:]] == [f"第{n}行" for n in (4, 8, 9, 10, 11, 12)]
    assert "SZ2701-JZ" in lines[1]
    assert_no_personal_data(result.output)


def test_roster_import_after_creating_the_class_then_again(runner):
    assert runner.invoke(args=CLASS_ARGS).exit_code == 0
    first = runner.invoke(args=["roster", "import", str(ROSTER_SAMPLE)])
    again = runner.invoke(args=["roster", "import", str(ROSTER_SAMPLE)])
    assert first.output.splitlines()[0] == "新增 4，更新 0，未变 0，拒绝 5"
    assert again.output.splitlines()[0] == "新增 0，更新 0，未变 4，拒绝 5"
    assert again.exit_code == 0
    assert_no_personal_data(first.output + again.output)


def test_an_unreadable_file_exits_1_with_one_line(runner, tmp_path):
    fake = tmp_path / "roster.xlsx"
    fake.write_text("not a workbook")
    for group, path in (("roster", fake), ("roster", tmp_path / "missing.xlsx"), ("catalog", fake)):
        result = runner.invoke(args=[group, "import", str(path)])
        assert result.exit_code == 1
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_catalog_import_prints_counts(runner):
    first = runner.invoke(args=["catalog", "import", str(CATALOG_SAMPLE)])
    again = runner.invoke(args=["catalog", "import", str(CATALOG_SAMPLE)])
    assert (first.exit_code, first.output) == (0, "新增 18，更新 0，未变 0，拒绝 0\n课后练习：新增 3，更新 0，未变 0，拒绝 0\n")
    assert (again.exit_code, again.output) == (0, "新增 0，更新 0，未变 18，拒绝 0\n课后练习：新增 0，更新 0，未变 3，拒绝 0\n")


def test_class_create_reports_created_then_unchanged_then_refuses_a_conflict(runner):
    created = runner.invoke(args=CLASS_ARGS)
    assert created.exit_code == 0
    assert created.output.startswith("已创建班级 SZ2701-JZ") and "2027-03-01 09:00" in created.output
    same = runner.invoke(args=CLASS_ARGS)
    assert same.exit_code == 0 and "未做修改" in same.output
    moved = runner.invoke(args=[*CLASS_ARGS[:-1], "别处"])
    assert moved.exit_code == 1 and "已存在" in moved.output


def test_class_create_with_a_bad_time_exits_1(runner):
    args = list(CLASS_ARGS)
    args[args.index("--starts") + 1] = "2027/3/1 9点"
    result = runner.invoke(args=args)
    assert result.exit_code == 1 and "YYYY-MM-DD HH:MM" in result.output


def test_class_create_refuses_a_start_in_the_past_unless_forced(runner):
    args = list(CLASS_ARGS)
    args[args.index("--starts") + 1] = "2020-03-01 09:00"
    refused = runner.invoke(args=args)
    assert refused.exit_code == 1
    assert "2020-03-01 09:00（北京时间）已经过去" in refused.output and "--force" in refused.output
    assert runner.invoke(args=["notify", "status", "SZ2701-JZ"]).exit_code == 1  # nothing was created
    forced = runner.invoke(args=[*args, "--force"])
    assert forced.exit_code == 0 and forced.output.startswith("已创建班级 SZ2701-JZ")
    assert runner.invoke(args=args).exit_code == 0  # re-running the same class needs no --force


def test_demo_load_twice(runner):
    first = runner.invoke(args=["demo", "load"])
    again = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0 and first.output.startswith("演示数据已加载")
    assert again.exit_code == 0 and again.output == "演示数据已存在，未做修改\n"
    assert "13800138001" not in first.output


def test_the_readme_example_files_exist_and_import(runner):
    root = ROSTER_SAMPLE.parent.parent
    line = next(line for line in (root / "README.md").read_text().splitlines() if line.startswith("Example files:"))
    named = re.findall(r"`([^`]+\.xlsx)`", line)
    assert named == ["samples/roster-sample.xlsx", "samples/catalog-sample.xlsx"]
    for path, group in zip(named, ("roster", "catalog"), strict=True):
        assert (root / path).is_file()
        result = runner.invoke(args=[group, "import", str(root / path)])
        assert result.exit_code == 0, result.output
