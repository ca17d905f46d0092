"""Drawing a paper (stratified random, per the rules) and showing it without its answers.

The database samples each pool and type (a window numbered in random order) and sends only the
questions drawn: a bank of thousands costs one query of a paper's rows. Options of single and multiple choice are
shuffled;
the order shown is stored with the attempt (`o`: original letters in the order shown), so the
keys a trainee sees (A, B, C…) are the paper's own and a reload shows the same paper.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from models.exam import PUBLIC_POOL, ExamQuestion, PaperItem
from services.exam import ExamError
from services.exam.rules import KINDS, Rules
from services.logfmt import kv

log = logging.getLogger(__name__)

LETTERS = "ABCDEF"
JUDGE_OPTIONS = (("T", "对"), ("F", "错"))
_rng = random.SystemRandom()


@dataclass(frozen=True, slots=True)
class Question:
    """A bank question as a paper needs it: plain values read as rows, not ORM entities (a paper
    has 55, and building entities cost more than the queries)."""

    id: int
    pool: str
    kind: str
    stem: str
    options: list[str]
    answer: str


_COLUMNS = (ExamQuestion.id, ExamQuestion.pool, ExamQuestion.kind, ExamQuestion.stem, ExamQuestion.options,
            ExamQuestion.answer)
# Built once: every start, answer, reload and grading reads a paper's questions.
_BY_IDS = select(*_COLUMNS).where(ExamQuestion.id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True)
class ShownQuestion:
    id: int
    type: str
    stem: str
    options: list[tuple[str, str]]  # (key shown, text)


def draw(session: Session, major_code: str, rules: Rules, rng: random.Random | None = None) -> list[PaperItem]:
    """A fresh paper for the major: [{"q": id, "o": shown order of original letters}]."""
    return draw_with_questions(session, major_code, rules, rng)[0]


def draw_with_questions(session: Session, major_code: str, rules: Rules,
                        rng: random.Random | None = None) -> tuple[list[PaperItem], dict[int, Question]]:
    """`draw`, with the questions drawn (the new attempt's page shows them: no second read)."""
    rng = rng or _rng
    wanted = {(pool, kind): counts[kind] for pool, counts in ((PUBLIC_POOL, rules.public), (major_code, rules.major))
              for kind in KINDS if counts[kind]}
    drawn = [Question(*row) for row in session.execute(_sample(major_code, tuple(wanted.items())))]
    for (pool, kind), count in wanted.items():
        have = sum(1 for q in drawn if (q.pool, q.kind) == (pool, kind))
        if have < count:
            log.error(kv("exam_bank_short", pool=pool, kind=kind, have=have, need=count))
            raise ExamError("题库题目不足，暂时无法开始考试，请联系学校。", 503)
    # Types in the rules' order (single, multi, judge), 公共 and major mixed within a type.
    ordered = sorted(drawn, key=lambda q: (KINDS.index(q.kind), rng.random()))
    return [{"q": q.id, "o": _shuffled(q, rng)} for q in ordered], {q.id: q for q in drawn}


@lru_cache(maxsize=64)
def _sample(major_code: str,
            wanted: tuple[tuple[tuple[str, str], int], ...]) -> Select[int, str, str, str, list[str], str]:
    """One query: each (pool, type) numbered in random order by the database, the first N kept.
    Only the questions drawn leave the database, however large the bank. Built once per major."""
    ranked = (
        select(ExamQuestion.id, ExamQuestion.pool, ExamQuestion.kind,
               func.row_number().over(partition_by=(ExamQuestion.pool, ExamQuestion.kind),
                                      order_by=func.random()).label("n"))
        .where(ExamQuestion.pool.in_((PUBLIC_POOL, major_code)))
        .subquery()
    )
    keep = or_(*(and_(ranked.c.pool == pool, ranked.c.kind == kind, ranked.c.n <= count)
                 for (pool, kind), count in wanted))
    return select(*_COLUMNS).join(ranked, ranked.c.id == ExamQuestion.id).where(keep)


def _shuffled(question: Question, rng: random.Random) -> list[str]:
    if question.kind == "judge":
        return [key for key, _ in JUDGE_OPTIONS]
    letters = list(LETTERS[:len(question.options)])
    rng.shuffle(letters)
    return letters


def questions_of(session: Session, paper: list[PaperItem]) -> dict[int, Question]:
    rows = session.execute(_BY_IDS, {"ids": [item["q"] for item in paper]})
    return {q.id: q for q in (Question(*row) for row in rows)}


def shown(paper: list[PaperItem], questions: dict[int, Question]) -> list[ShownQuestion]:
    """The paper as the trainee sees it: never the correct answers."""
    result = []
    for item in paper:
        q = questions[item["q"]]
        if q.kind == "judge":
            options = list(JUDGE_OPTIONS)
        else:
            options = [(LETTERS[i], q.options[LETTERS.index(original)])
                       for i, original in enumerate(item["o"]) if LETTERS.index(original) < len(q.options)]
        result.append(ShownQuestion(q.id, q.kind, q.stem, options))
    return result


def shown_keys(item: PaperItem, question: Question) -> set[str]:
    if question.kind == "judge":
        return {"T", "F"}
    return set(LETTERS[:len(item["o"])])


def original_letters(item: PaperItem, question: Question, keys: str) -> str:
    """The bank's letters behind the keys shown on this paper, sorted (how answers are stored)."""
    if question.kind == "judge":
        return keys
    return "".join(sorted(item["o"][LETTERS.index(k)] for k in keys if LETTERS.index(k) < len(item["o"])))


def is_correct(item: PaperItem, question: Question, keys: str | None) -> bool:
    """Exact: single and 判断 the one right key, multiple choice all and only the right keys."""
    if not keys:
        return False
    return original_letters(item, question, keys) == question.answer
