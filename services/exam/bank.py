"""The question bank and its import (`exam import FILE.xlsx`, CONTRACT §7).

One 公共 pool and one pool per major. A question is the same question when its 专业 and 题干 are:
a changed answer, option or explanation updates it; questions are never deleted (attempts drawn
from them keep pointing at them). Options and answers are read as the 课后练习 sheet reads them.
After the import, each pool holding fewer questions of a type than the rules draw is named.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.exam import PUBLIC_POOL, ExamQuestion
from services.db import transaction
from services.exam.rules import KINDS, Rules
from services.identity import audit
from services.school.imports import cells
from services.school.imports.exercises import (  # the same cells, read the same way
    FALSE_WORDS,
    OPTION_COLUMNS,
    QUESTION_KIND_LABELS,
    TRUE_WORDS,
    question_cells,
)
from services.school.imports.sheet import ImportReport, SheetRow, read_sheet
from services.school.majors import MAJORS

SAMPLE_BANK = Path(__file__).resolve().parent / "sample_bank.xlsx"  # scripts/make_exam_sample.py
COLUMNS = ("专业", "题型", "题干", *OPTION_COLUMNS, "答案", "解析")
PUBLIC_WORDS = {"", "公共", "公共课"}
POOL_NAMES = {PUBLIC_POOL: "公共", **{spec.code: spec.name for spec in MAJORS}}
_POOL_BY_WORD = {spec.name: spec.code for spec in MAJORS}


@dataclass
class BankReport(ImportReport):
    """The import's counts, plus one warning per pool and type short of what the rules draw."""

    short: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Line:
    pool: str
    kind: str
    stem: str
    options: list[str]
    answer: str
    explanation: str | None


def stem_hash(stem: str) -> str:
    return hashlib.sha256(stem.encode()).hexdigest()


def import_bank(session: Session, path: str | Path, rules: Rules | None, actor: str | None = None) -> BankReport:
    """Imports the first sheet in one transaction; raises UnreadableFile for a file it can't read.
    With `actor` (a staff action) the import is recorded in the audit log, in the same transaction."""
    rows = read_sheet(path, COLUMNS)
    report = BankReport()
    with transaction(session):
        existing = {(q.pool, q.stem_hash): q for q in session.scalars(select(ExamQuestion))}
        seen: set[tuple[str, str]] = set()
        for number, line in _lines(report, rows):
            key = (line.pool, stem_hash(line.stem))
            if key in seen:
                report.reject(number, "与前面一行的专业和题干相同（重复的题目）")
                continue
            seen.add(key)
            _apply(session, existing.get(key), key, line, report)
        session.flush()
        report.short = shortages(session, rules) if rules is not None else []
        if actor is not None:
            audit.record(session, actor, "exam_bank_imported", f"file:{Path(path).name[:80]}",
                         "；".join([report.summary(), *report.short]))
    report.rejected.sort()
    return report


def shortages(session: Session, rules: Rules) -> list[str]:
    """`建筑工程 判断题 10 道，少于每次抽取的 14 道` for each pool and type the rules can't fill."""
    have = Counter({(pool, kind): n for pool, kind, n in session.execute(
        select(ExamQuestion.pool, ExamQuestion.kind, func.count()).group_by(ExamQuestion.pool, ExamQuestion.kind))})
    found = []
    for pool, name in POOL_NAMES.items():
        wanted = rules.public if pool == PUBLIC_POOL else rules.major
        for kind in KINDS:
            if have[(pool, kind)] < wanted[kind]:
                found.append(f"{name} {QUESTION_KIND_LABELS[kind]} {have[(pool, kind)]} 道，"
                             f"少于每次抽取的 {wanted[kind]} 道")
    return found


def _lines(report: ImportReport, rows: list[SheetRow]) -> Iterator[tuple[int, Line]]:
    for row in rows:
        errors: list[str] = []
        line = _parse(row, errors)
        if errors or line is None:
            report.reject(row.number, "；".join(errors))
        else:
            yield row.number, line


def _parse(row: SheetRow, errors: list[str]) -> Line | None:
    word = cells.compact(row["专业"])
    pool = PUBLIC_POOL if word in PUBLIC_WORDS else _POOL_BY_WORD.get(word)
    if pool is None:
        errors.append(f"专业“{word}”不是六个专业之一（公共题请留空或填“公共”）")
    kind, stem, options, answer = question_cells(row, errors)
    if kind == "judge" and answer:
        answer = _judge_key(options, answer, errors)
    if errors or pool is None or kind is None or answer is None:
        return None
    return Line(pool, kind, stem, list(options), answer, cells.text(row["解析"]) or None)


def _judge_key(options: tuple[str, ...], letter: str, errors: list[str]) -> str | None:
    """判断 answers are kept as T (对) or F (错): the page always shows 对 and 错."""
    chosen = cells.compact(options["AB".index(letter)]).upper()
    if chosen in TRUE_WORDS:
        return "T"
    if chosen in FALSE_WORDS:
        return "F"
    errors.append("判断题的选项应为“对”“错”（或留空）")
    return None


def _apply(session: Session, question: ExamQuestion | None, key: tuple[str, str], line: Line,
           report: ImportReport) -> None:
    options = [] if line.kind == "judge" else line.options
    if question is None:
        session.add(ExamQuestion(pool=key[0], stem_hash=key[1], kind=line.kind, stem=line.stem, options=options,
                                 answer=line.answer, explanation=line.explanation))
        report.created += 1
        return
    values = {"kind": line.kind, "options": options, "answer": line.answer, "explanation": line.explanation}
    if all(getattr(question, name) == value for name, value in values.items()):
        report.unchanged += 1
        return
    for name, value in values.items():
        setattr(question, name, value)
    report.updated += 1
