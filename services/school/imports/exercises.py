"""The catalog's second sheet, 课后练习: the after-lesson exercise questions of the lessons.

One row per question: 视频标题 (a lesson imported by the first sheet or before), 题型 (单选,
多选 or 判断), 题干, 选项A–F (from A on, no gaps; 判断 may leave them blank for 对/错) and 答案
(letters such as C or ABC; for 判断 also 对/错). The rows of a lesson, in file order, are its
whole exercise: a lesson named in the sheet gets exactly those questions; lessons the sheet
doesn't name keep theirs. A workbook without the sheet changes no exercise.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ExerciseQuestion, Lesson
from services.school.imports import cells
from services.school.imports.sheet import ImportReport, SheetRow, read_named_sheet

SHEET = "课后练习"
LETTERS = "ABCDEF"
OPTION_COLUMNS = tuple(f"选项{letter}" for letter in LETTERS)
COLUMNS = ("视频标题", "题型", "题干", *OPTION_COLUMNS, "答案")
# The one table of question types (exercises and the exam alike), and what a 题型 cell may say.
QUESTION_KIND_LABELS = {"single": "单选题", "multi": "多选题", "judge": "判断题"}
KINDS = {word: kind for kind, label in QUESTION_KIND_LABELS.items() for word in (label, label[:-1])}
TRUE_WORDS = {"对", "正确", "√", "是", "T", "TRUE"}
FALSE_WORDS = {"错", "错误", "×", "X", "否", "F", "FALSE"}
STEM_MAX, OPTION_MAX = 1000, 300
_SEPARATORS = re.compile(r"[\s,，、;；/]+")


@dataclass(frozen=True)
class Line:
    number: int
    lesson_id: int
    kind: str
    stem: str
    options: tuple[str, ...]
    answer: str

    def values(self) -> tuple[str, str, str, str]:
        return self.kind, self.stem, json.dumps(list(self.options), ensure_ascii=False), self.answer


def import_exercises(session: Session, path: str | Path) -> ImportReport | None:
    """Applies the 课后练习 sheet inside the caller's transaction; None when there is no such sheet."""
    rows = read_named_sheet(path, SHEET, COLUMNS)
    if rows is None:
        return None
    report = ImportReport()
    by_title: dict[str, list[int]] = {}
    for lesson_id, title in session.execute(select(Lesson.id, Lesson.title)):
        by_title.setdefault(title, []).append(lesson_id)
    lessons: dict[int, list[Line]] = {}
    for line in report.accepted(rows, lambda row, errors: _parse(row, by_title, errors)):
        lessons.setdefault(line.lesson_id, []).append(line)
    for lesson_id, lines in lessons.items():
        _apply(session, lesson_id, lines, report)
    report.rejected.sort()
    return report


def _parse(row: SheetRow, by_title: dict[str, list[int]], errors: list[str]) -> Line | None:
    title = cells.text(row["视频标题"])
    found = by_title.get(title, [])
    if not title:
        errors.append("视频标题为空")
    elif not found:
        errors.append(f"没有标题为“{title}”的视频，请先在第一个工作表中导入该视频")
    elif len(found) > 1:
        errors.append(f"标题为“{title}”的视频不止一个，无法确定是哪一个")
    kind, stem, options, answer = question_cells(row, errors)
    if errors or kind is None or answer is None:
        return None
    return Line(row.number, found[0], kind, stem, options, answer)


def question_cells(row: SheetRow, errors: list[str]) -> tuple[str | None, str, tuple[str, ...], str | None]:
    """(kind, stem, options, answer letters) of a question row, as the 课后练习 sheet and the exam bank
    both write them; what is wrong goes to `errors`."""
    kind = KINDS.get(cells.compact(row["题型"]))
    if kind is None:
        errors.append("题型应为“单选”“多选”或“判断”")
    stem = cells.text(row["题干"])
    if not stem:
        errors.append("题干为空")
    elif len(stem) > STEM_MAX:
        errors.append(f"题干超过{STEM_MAX}个字")
    options = _options(row, kind, errors)
    answer = _answer(row["答案"], kind, options, errors) if kind and options else None
    return kind, stem, options, answer


def _options(row: SheetRow, kind: str | None, errors: list[str]) -> tuple[str, ...]:
    values = [cells.text(row[column]) for column in OPTION_COLUMNS]
    filled = [value for value in values if value]
    if kind == "judge" and not filled:
        return ("对", "错")
    if values[:len(filled)] != filled:
        errors.append("选项应从选项A起连续填写，中间不能空缺")
    elif len(filled) < 2:
        errors.append("至少需要两个选项")
    elif kind == "judge" and len(filled) != 2:
        errors.append("判断题只能有两个选项（或留空，默认为“对”“错”）")
    elif any(len(value) > OPTION_MAX for value in filled):
        errors.append(f"选项超过{OPTION_MAX}个字")
    else:
        return tuple(filled)
    return ()


def _answer(raw: object, kind: str, options: tuple[str, ...], errors: list[str]) -> str | None:
    text = cells.compact(raw).upper()
    if kind == "judge":
        return _judge_answer(text, options, errors)
    letters = _SEPARATORS.sub("", text)
    available = LETTERS[:len(options)]
    if not letters or any(c not in available for c in letters) or len(set(letters)) != len(letters):
        errors.append(f"答案应为选项字母（{available[0]}–{available[-1]}），如 C 或 ABC")
        return None
    if kind == "single" and len(letters) != 1:
        errors.append("单选题的答案只能有一个字母")
        return None
    if kind == "multi" and len(letters) < 2:
        errors.append("多选题的答案至少有两个字母")
        return None
    return "".join(sorted(letters))


def _judge_answer(text: str, options: tuple[str, ...], errors: list[str]) -> str | None:
    compact = [cells.compact(option).upper() for option in options]
    if text in ("A", "B"):
        return text
    if text in compact:
        return LETTERS[compact.index(text)]
    for words in (TRUE_WORDS, FALSE_WORDS):
        if text in words:
            matching = [LETTERS[i] for i, option in enumerate(compact) if option in words]
            if len(matching) == 1:
                return matching[0]
    errors.append("判断题的答案应为“对”或“错”（或选项字母A、B）")
    return None


def _apply(session: Session, lesson_id: int, lines: list[Line], report: ImportReport) -> None:
    existing = session.scalars(select(ExerciseQuestion).where(ExerciseQuestion.lesson_id == lesson_id)
                               .order_by(ExerciseQuestion.position)).all()
    for position, line in enumerate(lines, start=1):
        kind, stem, options, answer = line.values()
        question = existing[position - 1] if position <= len(existing) else None
        if question is None:
            session.add(ExerciseQuestion(lesson_id=lesson_id, position=position, kind=kind, stem=stem,
                                         options=options, answer=answer))
            report.created += 1
        elif (question.kind, question.stem, question.options, question.answer) != (kind, stem, options, answer):
            question.kind, question.stem, question.options, question.answer = kind, stem, options, answer
            report.updated += 1
        else:
            report.unchanged += 1
    for question in existing[len(lines):]:
        session.delete(question)
