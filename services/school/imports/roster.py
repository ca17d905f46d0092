"""Importing an enterprise enrollment roster (报名汇总表, CONTRACT §6).

One row per trainee and major. A trainee is found by the keyed hash of the ID card and stored
with the number encrypted. Rows are checked one by one (a bad row blocks no other), then the
whole file is applied in one transaction with bulk statements: the database sees a handful of
queries per 500 rows, never one per row, so 10,000 rows take seconds.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Row, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault

from models import ClassMember, Enrollment, Major, Trainee, TrainingClass
from models.trainee import ENROLLMENT_ADDED, ENROLLMENT_MAIN
from models.types import utcnow
from services.db import table_of, transaction
from services.identity import audit
from services.identity.pii import PiiCipher, mask_id_card, normalize_phone, validate_id_card
from services.school.imports import cells
from services.school.imports.sheet import ImportReport, SheetRow, read_sheet
from services.school.majors import MAJOR_NAMES, ensure_majors

COLUMNS = ("姓名", "身份证号", "手机号", "工作单位", "专业", "类型", "注册有效期", "班级")
KINDS = {"主项": ENROLLMENT_MAIN, "增项": ENROLLMENT_ADDED}
NAME_MAX, COMPANY_MAX = 64, 200
T = TypeVar("T")
# What is read of a trainee (id, ID card hash, name, phone, company) and of an enrollment
# (id, trainee, major, kind, registration expiry).
TraineeRow = Row[int, str, str, str, str]
EnrollmentRow = Row[int, int, int, str, date | None]
CHUNK = 500  # bound parameters per IN (...) query, well under every backend's limit


@dataclass(frozen=True)
class ClassRef:
    id: int
    code: str
    major_id: int


@dataclass(frozen=True)
class Line:
    """One accepted roster row."""

    number: int
    id_hash: str
    id_card: str
    name: str
    phone: str
    company: str
    major: Major
    kind: str
    expires: date | None
    class_ref: ClassRef | None

    @property
    def person(self) -> tuple[str, str, str]:
        return self.name, self.phone, self.company


def import_roster(session: Session, cipher: PiiCipher, path: str | Path, dry_run: bool = False,
                  actor: str | None = None, filename: str = "") -> ImportReport:
    """Imports the roster at `path`; raises UnreadableFile when the file itself can't be read.
    With `actor` (a staff action) the import is recorded in the audit log, in its transaction.

    With `dry_run` the report is the same (counts and each rejected row) but nothing is written:
    the staff console previews a file this way before staff confirm it.
    """
    rows = read_sheet(path, COLUMNS)
    report = ImportReport()
    with transaction(session, commit=not dry_run):
        majors = ensure_majors(session)
        classes = _classes_by_code(session)
        accepted = report.accepted(rows, lambda row, errors: _parse(row, majors, classes, cipher, errors))
        lines = _consistent(accepted, report)
        _apply(session, cipher, lines, report, dry_run)
        if actor is not None and not dry_run:
            audit.record(session, actor, "roster_imported", f"file:{(filename or Path(path).name)[:80]}",
                         report.summary())
    report.rejected.sort()
    return report


def _classes_by_code(session: Session) -> dict[str, ClassRef]:
    rows = session.execute(select(TrainingClass.id, TrainingClass.code, TrainingClass.major_id))
    return {code.upper(): ClassRef(id_, code, major_id) for id_, code, major_id in rows}


def _parse(row: SheetRow, majors: dict[str, Major], classes: dict[str, ClassRef], cipher: PiiCipher,
           errors: list[str]) -> Line | None:
    name = cells.person_name(row["姓名"])
    if not name:
        errors.append("姓名为空")
    elif len(name) > NAME_MAX:
        errors.append(f"姓名超过{NAME_MAX}个字")
    id_card = cells.checked(errors, validate_id_card, row["身份证号"])
    phone = cells.checked(errors, normalize_phone, row["手机号"])
    company = cells.text(row["工作单位"])
    if len(company) > COMPANY_MAX:
        errors.append(f"工作单位超过{COMPANY_MAX}个字")
    major = _major(row, majors, errors)
    kind = KINDS.get(cells.compact(row["类型"]))
    if kind is None:
        errors.append("类型应为“主项”或“增项”")
    expires = cells.checked(errors, cells.optional_date, row["注册有效期"], "注册有效期")
    class_ref = _class(row, major, classes, errors)
    if errors or id_card is None or phone is None or major is None or kind is None:
        return None  # each of them None has added its reason to `errors`
    return Line(row.number, cipher.lookup_hash(id_card), id_card, name, phone, company,
                major, kind, expires, class_ref)


def _major(row: SheetRow, majors: dict[str, Major], errors: list[str]) -> Major | None:
    name = cells.compact(row["专业"])
    if not name:
        errors.append("专业为空")
        return None
    if name not in majors:
        errors.append(f"专业“{name}”不存在，应为：{'、'.join(MAJOR_NAMES)}")
    return majors.get(name)


def _class(row: SheetRow, major: Major | None, classes: dict[str, ClassRef], errors: list[str]) -> ClassRef | None:
    code = cells.compact(row["班级"])
    if not code:
        return None
    ref = classes.get(code.upper())
    if ref is None:
        errors.append(f"班级“{code}”不存在，请先创建班级或核对班级编号")
    elif major is not None and ref.major_id != major.id:
        errors.append(f"班级“{ref.code}”不是{major.name}专业的班级")
    return ref


def _consistent(lines: Iterable[Line], report: ImportReport) -> list[Line]:
    """Drops rows that contradict an earlier row of the same file; the first row wins.

    Letting the later row win would make a re-import flip the trainee back and forth.
    """
    first_of_person: dict[str, Line] = {}
    row_of_pair: dict[tuple[str, int], int] = {}
    kept = []
    for line in lines:
        pair = (line.id_hash, line.major.id)
        first = first_of_person.setdefault(line.id_hash, line)
        if pair in row_of_pair:
            report.reject(line.number, f"与第{row_of_pair[pair]}行重复：同一学员同一专业只能有一行")
        elif first.person != line.person:
            labels = ("姓名", "手机号", "工作单位")
            fields = [label for label, a, b in zip(labels, first.person, line.person, strict=True) if a != b]
            report.reject(line.number, f"与第{first.number}行身份证号相同，但{'、'.join(fields)}不一致")
        else:
            row_of_pair[pair] = line.number
            kept.append(line)
    return kept


def _apply(session: Session, cipher: PiiCipher, lines: list[Line], report: ImportReport, dry_run: bool) -> None:
    persons: dict[str, Line] = {}  # the first row of each trainee, in file order
    for line in lines:
        persons.setdefault(line.id_hash, line)
    existing = _existing_trainees(session, list(persons))
    changed_rows = _update_trainees(session, existing, persons, dry_run)
    ids = {h: row.id for h, row in existing.items()}
    new = [p for h, p in persons.items() if h not in existing]
    # A dry run gives new trainees stand-in ids (no row has a negative id): they have nothing yet.
    ids.update({p.id_hash: -n for n, p in enumerate(new, 1)} if dry_run else _insert_trainees(session, cipher, new))
    enrollments = _existing_enrollments(session, [row.id for row in existing.values()])
    memberships = _existing_memberships(session, [row.id for row in existing.values()])

    plan = _Plan()
    for line in lines:
        trainee_id = ids[line.id_hash]
        created = plan.enrollment(line, trainee_id, enrollments.get((trainee_id, line.major.id)))
        moved = plan.membership(line, trainee_id, memberships.get((trainee_id, line.major.id), {}))
        if created:
            report.count(line.number, "created")
        elif moved or plan.enrollment_changed(line) or line.number in changed_rows:
            report.count(line.number, "updated")
        else:
            report.count(line.number, "unchanged")
    if not dry_run:
        plan.execute(session)


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _among(column: InstrumentedAttribute[Any], values: Sequence[object]) -> ColumnElement[bool]:
    """`column IN (...)` with the values written into the SQL text.

    As bound parameters, PostgreSQL (through psycopg's prepared statements) ends up comparing
    each row with all 500 of them in turn; written out, they form a constant array it hashes.
    """
    return column.in_(bindparam(f"among_{column.key}", list(values), expanding=True, literal_execute=True))


def _existing_trainees(session: Session, hashes: list[str]) -> dict[str, TraineeRow]:
    found = {}
    for chunk in _chunks(hashes):
        stmt = select(Trainee.id, Trainee.id_card_hash, Trainee.name, Trainee.phone, Trainee.company)
        for row in session.execute(stmt.where(_among(Trainee.id_card_hash, chunk))):
            found[row.id_card_hash] = row
    return found


def _update_trainees(session: Session, existing: dict[str, TraineeRow], persons: dict[str, Line],
                     dry_run: bool) -> set[int]:
    """Brings name, phone and company up to date; returns the row numbers that changed one."""
    updates: list[dict[str, object]] = []
    rows: set[int] = set()
    for id_hash, row in existing.items():
        line = persons[id_hash]
        if (row.name, row.phone, row.company) != line.person:
            updates.append({"id": row.id, "name": line.name, "phone": line.phone,
                            "company": line.company, "updated_at": utcnow()})
            rows.add(line.number)
    if updates and not dry_run:
        session.execute(update(Trainee), updates)
    return rows


def _insert_trainees(session: Session, cipher: PiiCipher, lines: list[Line]) -> dict[str, int]:
    if not lines:
        return {}
    values: list[dict[str, object]] = [{
        "name": line.name, "phone": line.phone, "company": line.company, "id_card_hash": line.id_hash,
        "id_card_enc": cipher.encrypt(line.id_card), "id_card_mask": mask_id_card(line.id_card),
    } for line in lines]
    table = table_of(Trainee)
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        result = connection.execute(insert(table).returning(table.c.id_card_hash, table.c.id), values)
        return {id_hash: id_ for id_hash, id_ in result}
    # The ids drawn from the table's sequence first, so that the rows can go in by COPY.
    ids = connection.scalars(select(func.nextval(func.pg_get_serial_sequence(table.name, "id")))
                             .select_from(func.generate_series(1, len(values)))).all()
    for row, id_ in zip(values, ids, strict=True):
        row["id"] = id_
    _insert_rows(connection, table, values)
    return {str(row["id_card_hash"]): id_ for row, id_ in zip(values, ids, strict=True)}


def _insert_rows(connection: Connection, table: Table, rows: list[dict[str, object]]) -> None:
    """INSERTs `rows` (dicts of column values; Python-side defaults filled in here), on
    PostgreSQL by COPY: thousands of rows in one stream, where an INSERT … VALUES of them is a
    statement psycopg parses anew for each page of rows (too long for its cache)."""
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    columns = [column for column in table.columns if column.name in rows[0] or column.default is not None]
    defaults = {column.name: column.default for column in columns if column.name not in rows[0]}
    processors = [column.type.bind_processor(connection.dialect) for column in columns]
    names = ", ".join(connection.dialect.identifier_preparer.quote(column.name) for column in columns)
    quoted_table = connection.dialect.identifier_preparer.format_table(table)
    filled = {name: _default_value(default) for name, default in defaults.items()}
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {quoted_table} ({names}) FROM STDIN") as copy:
        for row in rows:
            values = [row[column.name] if column.name in row else filled[column.name] for column in columns]
            copy.write_row([value if process is None else process(value)
                            for value, process in zip(values, processors, strict=True)])


def _default_value(default: object) -> object:
    """A column's Python-side default, as an INSERT through SQLAlchemy would compute it once."""
    if not isinstance(default, ScalarElementColumnDefault | CallableColumnDefault):
        raise TypeError(f"unsupported column default for COPY: {default!r}")
    if isinstance(default, CallableColumnDefault):
        return default.arg(None)  # type: ignore[arg-type]  # a no-argument callable, wrapped by SQLAlchemy
    return default.arg


def _existing_enrollments(session: Session, trainee_ids: list[int]) -> dict[tuple[int, int], EnrollmentRow]:
    found = {}
    for chunk in _chunks(trainee_ids):
        stmt = select(Enrollment.id, Enrollment.trainee_id, Enrollment.major_id,
                      Enrollment.kind, Enrollment.registration_expires)
        for row in session.execute(stmt.where(_among(Enrollment.trainee_id, chunk))):
            found[(row.trainee_id, row.major_id)] = row
    return found


def _existing_memberships(session: Session, trainee_ids: list[int]) -> dict[tuple[int, int], dict[int, int]]:
    """{(trainee id, major id): {class id: member id}}."""
    found: dict[tuple[int, int], dict[int, int]] = {}
    for chunk in _chunks(trainee_ids):
        stmt = (select(ClassMember.id, ClassMember.trainee_id, ClassMember.class_id, TrainingClass.major_id)
                .join(TrainingClass, TrainingClass.id == ClassMember.class_id)
                .where(_among(ClassMember.trainee_id, chunk)))
        for row in session.execute(stmt):
            found.setdefault((row.trainee_id, row.major_id), {})[row.class_id] = row.id
    return found


class _Plan:
    """The inserts, updates and deletes the rows ask for, executed in bulk at the end."""

    def __init__(self) -> None:
        self.new_enrollments: list[dict[str, object]] = []
        self.changed_enrollments: dict[int, dict[str, object]] = {}  # row number -> values
        self.new_members: list[dict[str, object]] = []
        self.gone_members: list[int] = []

    def enrollment(self, line: Line, trainee_id: int, current: EnrollmentRow | None) -> bool:
        """Plans the row's enrollment; True when it is a new one."""
        values: dict[str, object] = {"kind": line.kind, "registration_expires": line.expires}
        if current is None:
            self.new_enrollments.append({"trainee_id": trainee_id, "major_id": line.major.id,
                                         "fee": line.major.fee_for(line.kind), **values})
            return True
        if (current.kind, current.registration_expires) != (line.kind, line.expires):
            if current.kind != line.kind:
                values["fee"] = line.major.fee_for(line.kind)
            self.changed_enrollments[line.number] = {"id": current.id, "updated_at": utcnow(), **values}
        return False

    def enrollment_changed(self, line: Line) -> bool:
        return line.number in self.changed_enrollments

    def membership(self, line: Line, trainee_id: int, current: dict[int, int]) -> bool:
        """Puts the trainee in the row's class, out of any other class of that major; True if moved."""
        if line.class_ref is None or line.class_ref.id in current:
            return False
        self.gone_members.extend(current.values())
        self.new_members.append({"class_id": line.class_ref.id, "trainee_id": trainee_id})
        return True

    def execute(self, session: Session) -> None:
        for chunk in _chunks(self.gone_members):
            session.execute(delete(ClassMember).where(_among(ClassMember.id, chunk)))
        # Rows carrying a fee change and rows that don't take different UPDATE statements.
        for group in (True, False):
            values = [v for v in self.changed_enrollments.values() if ("fee" in v) is group]
            if values:
                session.execute(update(Enrollment), values)
        for model, values in ((Enrollment, self.new_enrollments), (ClassMember, self.new_members)):
            if values:
                _insert_rows(session.connection(), table_of(model), values)
