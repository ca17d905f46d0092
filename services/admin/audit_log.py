"""The audit log as admins read it (/admin/audit): filtered by staff member, action and day, a page
at a time, each target named as staff know it (the trainee's masked name, the class code, the
exam's trainee and major), not as stored (`trainee:12`, `attempt:3`). Read-only."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from models import AuditEntry, ExamAttempt, Lesson, Major, Trainee, TrainingClass
from services.identity.pii import mask_name
from services.timeutil import SHANGHAI

PAGE_SIZE = 50


@dataclass(frozen=True)
class Filters:
    actor: str = ""
    action: str = ""
    day_from: date | None = None  # Beijing days, both ends included
    day_to: date | None = None

    def where(self) -> list[ColumnElement[bool]]:
        def midnight(day: date) -> datetime:
            return datetime.combine(day, time(0), SHANGHAI)

        clauses = []
        if self.actor:
            clauses.append(AuditEntry.actor == self.actor)
        if self.action:
            clauses.append(AuditEntry.action == self.action)
        if self.day_from:
            clauses.append(AuditEntry.at >= midnight(self.day_from))
        if self.day_to:
            clauses.append(AuditEntry.at < midnight(self.day_to + timedelta(days=1)))
        return clauses


@dataclass(frozen=True)
class Target:
    """What an entry changed, in words; `kind` and `ref` let the page link to it."""

    text: str
    kind: str = ""  # trainee, class, attempt (with `ref` the trainee id), or empty: no link
    ref: str = ""
    anchor: str = ""


@dataclass(frozen=True)
class Row:
    entry: AuditEntry
    target: Target


def actors(session: Session) -> list[str]:
    """Everyone who appears in the log, for the filter's choices."""
    return list(session.scalars(select(AuditEntry.actor).distinct().order_by(AuditEntry.actor)))


def page(session: Session, filters: Filters, number: int) -> tuple[list[Row], int]:
    """One page of entries, newest first, with readable targets, and how many match in all."""
    where = filters.where()
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    entries = list(session.scalars(select(AuditEntry).where(*where).order_by(AuditEntry.id.desc())
                                   .offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    names = _Names(session, [e.target for e in entries])
    return [Row(e, names.target(e.target)) for e in entries], total


def _ids(refs: Iterable[str]) -> list[int]:
    return [int(ref) for ref in refs if ref.isdigit()]


class _Names:
    """The names of every trainee, class, attempt and lesson a page's entries point at (one query
    per kind, not per row)."""

    def __init__(self, session: Session, targets: list[str]) -> None:
        by_kind: dict[str, set[str]] = {}
        for target in targets:
            kind, _, ref = target.partition(":")
            by_kind.setdefault(kind, set()).add(ref)
        self.trainees: dict[int, str] = {i: name for i, name in session.execute(
            select(Trainee.id, Trainee.name).where(Trainee.id.in_(_ids(by_kind.get("trainee", ())))))}
        self.attempts = {aid: (tid, name, major) for aid, tid, name, major in session.execute(
            select(ExamAttempt.id, ExamAttempt.trainee_id, Trainee.name, Major.name)
            .join(Trainee, Trainee.id == ExamAttempt.trainee_id).join(Major, Major.id == ExamAttempt.major_id)
            .where(ExamAttempt.id.in_(_ids(by_kind.get("attempt", ())))))}
        self.lessons: dict[int, str] = {i: title for i, title in session.execute(
            select(Lesson.id, Lesson.title).where(Lesson.id.in_(_ids(by_kind.get("lesson", ())))))}
        codes = [c.upper() for c in by_kind.get("class", ())]
        self.classes = {code.upper(): (code, name) for code, name in session.execute(
            select(TrainingClass.code, TrainingClass.name).where(func.upper(TrainingClass.code).in_(codes)))}

    def target(self, stored: str) -> Target:
        kind, _, ref = stored.partition(":")
        name = _NAMERS.get(kind)
        return name(self, ref) if name else Target(stored)

    def trainee(self, ref: str) -> Target:
        name = self.trainees.get(int(ref)) if ref.isdigit() else None
        return Target(f"学员 {mask_name(name)}", "trainee", ref) if name else Target(f"学员（已删除，#{ref}）")

    def attempt(self, ref: str) -> Target:
        found = self.attempts.get(int(ref)) if ref.isdigit() else None
        if found is None:
            return Target(f"考试（#{ref}）")
        trainee_id, name, major = found
        return Target(f"{mask_name(name)} 的{major}考试（#{ref}）", "trainee", str(trainee_id), f"attempt-{ref}")

    def klass(self, ref: str) -> Target:
        found = self.classes.get(ref.upper())
        return Target(f"班级 {found[0]} {found[1]}", "class", found[0]) if found else Target(f"班级 {ref}")

    def lesson(self, ref: str) -> Target:
        title = self.lessons.get(int(ref)) if ref.isdigit() else None
        return Target(f"视频课时《{title}》" if title else f"视频课时（#{ref}）")


_NAMERS: dict[str, Callable[[_Names, str], Target]] = {
    "trainee": _Names.trainee, "attempt": _Names.attempt, "class": _Names.klass, "lesson": _Names.lesson,
    "staff": lambda _, ref: Target(f"教务账号 {ref}"), "company": lambda _, ref: Target(f"单位 {ref}"),
    "file": lambda _, ref: Target(f"文件 {ref}"), "export": lambda _, ref: Target("结业名单" if ref == "completions" else ref),
}
