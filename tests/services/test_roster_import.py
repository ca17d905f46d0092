"""Roster import (CONTRACT §6): typed cells, row checks with reasons, idempotence, encryption at rest."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select, text

from models import ClassMember, Enrollment, Trainee, TrainingClass, db
from services.school.classes import create_class
from services.school.imports import import_roster
from tests.xlsx_files import ROSTER_SAMPLE, id_card, roster_row, write_roster

ZHOU = "320505198001010017"  # 周一 of the sample file


def run_import(app, path):
    with app.app_context():
        return import_roster(db.session, app.extensions["pii"], path)


def make_class(app, code="SZ2701-JZ", major="建筑工程"):
    with app.app_context():
        create_class(db.session, code, major, f"{major}班", "2027-03-01 09:00", "苏州市姑苏区培训楼", "test")


def trainee_by_card(app, card):
    """(trainee, {major name: enrollment}, [class codes]) of the trainee with ID card `card`."""
    with app.app_context():
        trainee = db.session.scalar(select(Trainee).where(
            Trainee.id_card_hash == app.extensions["pii"].lookup_hash(card)))
        if trainee is None:
            return None, {}, []
        enrollments = {e.major.name: e for e in trainee.enrollments}
        codes = db.session.scalars(select(TrainingClass.code).join(ClassMember).where(
            ClassMember.trainee_id == trainee.id)).all()
        db.session.expunge_all()
        return trainee, enrollments, sorted(codes)


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_sample_roster_imports_rows_4_to_7_and_rejects_8_to_12(app):
    make_class(app)
    report = run_import(app, ROSTER_SAMPLE)
    assert (report.created, report.updated, report.unchanged) == (4, 0, 0)
    reasons = dict(report.rejected)
    assert sorted(reasons) == [8, 9, 10, 11, 12]
    assert "文本" in reasons[8]
    assert "出生日期" in reasons[9]
    assert "手机号" in reasons[10]
    assert "专业" in reasons[11] and "建筑" in reasons[11]
    assert "校验位" in reasons[12]

    zhou, enrollments, classes = trainee_by_card(app, ZHOU)
    assert (zhou.name, zhou.phone, zhou.company) == ("周一", "13912340001", "苏州示例建设有限公司")
    assert {name: (e.kind, e.fee) for name, e in enrollments.items()} == {
        "建筑工程": ("main", Decimal(615)), "市政公用工程": ("added", Decimal(293))}
    assert enrollments["建筑工程"].registration_expires == date(2027, 5, 31)
    assert classes == ["SZ2701-JZ"]
    wu, enrollments, _ = trainee_by_card(app, "32058319751212108X")
    assert wu.phone == "13912340002" and enrollments["机电工程"].registration_expires == date(2027, 6, 15)
    zheng, enrollments, _ = trainee_by_card(app, "320502198808080033")
    assert zheng.phone == "13912340003" and enrollments["公路工程"].registration_expires == date(2027, 7, 1)
    assert count(app, Trainee) == 3 and count(app, Enrollment) == 4


def test_sample_roster_without_the_class_rejects_row_4_only_for_the_class(app):
    report = run_import(app, ROSTER_SAMPLE)
    reasons = dict(report.rejected)
    assert sorted(reasons) == [4, 8, 9, 10, 11, 12]
    assert "SZ2701-JZ" in reasons[4] and "不存在" in reasons[4]
    assert report.created == 3
    _, enrollments, classes = trainee_by_card(app, ZHOU)
    assert list(enrollments) == ["市政公用工程"] and classes == []


def test_reimporting_same_file_changes_nothing(app):
    make_class(app)
    run_import(app, ROSTER_SAMPLE)
    before, _, _ = trainee_by_card(app, ZHOU)
    report = run_import(app, ROSTER_SAMPLE)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 4)
    after, _, _ = trainee_by_card(app, ZHOU)
    assert after.updated_at == before.updated_at and after.id_card_enc == before.id_card_enc
    assert (count(app, Trainee), count(app, Enrollment), count(app, ClassMember)) == (3, 4, 1)


def test_id_card_is_stored_encrypted_and_decrypts_back(app):
    run_import(app, ROSTER_SAMPLE)
    with app.app_context():
        for table in db.metadata.sorted_tables:
            dump = repr(db.session.execute(text(f"SELECT * FROM {table.name}")).all())
            assert ZHOU not in dump and "32058319751212108" not in dump, table.name
        cipher = app.extensions["pii"]
        zhou = db.session.scalar(select(Trainee).where(Trainee.name == "周一"))
        assert cipher.decrypt(zhou.id_card_enc) == ZHOU
        assert zhou.id_card_hash == cipher.lookup_hash(ZHOU)
        assert zhou.id_card_mask == "3205**********0017"


def test_cells_typed_in_excel_are_understood(app, tmp_path):
    cards = [id_card(f"32050819900101{n:03d}") for n in (1, 2, 3, 4, 5, 7)]  # the last ends in X
    rows = [
        roster_row("甲", cards[0], 13900000001, expires=datetime(2027, 3, 1)),
        [],
        roster_row("乙", cards[1], "139 0000 0002", expires="2027-03-01"),
        roster_row("丙", cards[2], "13900000003", expires="2027/3/1"),
        roster_row("丁", cards[3], "+86 139-0000-0004", expires="2027年3月1日"),
        roster_row("戊", "".join(chr(ord(c) + 0xFEE0) for c in cards[4]), "13900000005", expires=46447),
        roster_row("张  己", f" {cards[5][:9]} {cards[5][9:]} ".lower(), "13900000006", kind=" 增项 "),
    ]
    titles = [["某公司二级建造师继续教育报名汇总表"], ["经办人：王经理"], []]
    report = run_import(app, write_roster(tmp_path / "typed.xlsx", rows, titles))
    assert report.rejected == [] and report.created == 6
    for n, card in enumerate(cards[:5], start=1):
        trainee, enrollments, _ = trainee_by_card(app, card)
        assert trainee.phone == f"1390000000{n}"
        assert enrollments["建筑工程"].registration_expires == date(2027, 3, 1)
    trainee, enrollments, _ = trainee_by_card(app, cards[5])
    assert trainee.name == "张己" and enrollments["建筑工程"].kind == "added"


def test_bad_rows_are_rejected_with_their_excel_row_numbers(app, tmp_path):
    make_class(app, "SZ2701-JZ", "建筑工程")
    good = id_card("32050819900101011")
    rows = [
        roster_row("好", good, "13900000011", class_code="sz2701-jz"),      # row 3
        roster_row(card=320505198001010017),                                 # 4
        roster_row(card="320505198001010018"),                               # 5 check digit
        roster_row(card=id_card("32050519900230001")),                        # 6 Feb 30
        roster_row(card=id_card("32050519900101002"), phone="1390000001"),    # 7
        roster_row(card=id_card("32050519900101003"), major="土木工程"),       # 8
        roster_row(card=id_card("32050519900101004"), class_code="NOPE-1"),   # 9
        roster_row(card=id_card("32050519900101005"), major="市政公用工程", class_code="SZ2701-JZ"),  # 10
        roster_row(card=id_card("32050519900101006"), kind="主修"),            # 11
        roster_row(name=None, card=id_card("32050519900101007")),             # 12
        roster_row(card=id_card("32050519900101008"), expires="2027-13-01"),  # 13
        roster_row(card=None, phone=None, major=None),                        # 14: three reasons
    ]
    report = run_import(app, write_roster(tmp_path / "bad.xlsx", rows, [["标题"]]))
    reasons = dict(report.rejected)
    expected = {4: "文本", 5: "校验位", 6: "出生日期", 7: "手机号", 8: "土木工程", 9: "NOPE-1",
                10: "不是市政公用工程专业的班级", 11: "主项", 12: "姓名", 13: "注册有效期", 14: "身份证号为空"}
    assert sorted(reasons) == sorted(expected)
    for number, words in expected.items():
        assert words in reasons[number], (number, reasons[number])
    assert reasons[14].count("；") == 2
    assert report.created == 1
    _, _, classes = trainee_by_card(app, good)
    assert classes == ["SZ2701-JZ"]


def test_changed_name_phone_and_company_update_the_trainee(app, tmp_path):
    run_import(app, write_roster(tmp_path / "a.xlsx", [roster_row(), roster_row(major="机电工程", kind="增项")]))
    before, _, _ = trainee_by_card(app, ZHOU)
    changed = dict(name="周一一", phone="13700000001", company="新公司")
    report = run_import(app, write_roster(tmp_path / "b.xlsx", [
        roster_row(**changed), roster_row(major="机电工程", kind="增项", **changed)]))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    after, enrollments, _ = trainee_by_card(app, ZHOU)
    assert (after.id, after.name, after.phone, after.company) == (before.id, "周一一", "13700000001", "新公司")
    assert after.updated_at > before.updated_at and len(enrollments) == 2


def test_changed_kind_and_date_update_the_enrollment_and_its_fee(app, tmp_path):
    run_import(app, write_roster(tmp_path / "a.xlsx", [roster_row(expires="2027-03-01")]))
    report = run_import(app, write_roster(tmp_path / "b.xlsx", [roster_row(kind="增项", expires="2028-03-01")]))
    assert (report.created, report.updated) == (0, 1)
    _, enrollments, _ = trainee_by_card(app, ZHOU)
    building = enrollments["建筑工程"]
    assert (building.kind, building.fee) == ("added", Decimal(297))
    assert building.registration_expires == date(2028, 3, 1)
    report = run_import(app, write_roster(tmp_path / "c.xlsx", [roster_row(kind="增项", expires=None)]))
    assert report.updated == 1 and trainee_by_card(app, ZHOU)[1]["建筑工程"].registration_expires is None


def test_a_new_class_code_moves_the_trainee_out_of_the_old_class_of_that_major(app, tmp_path):
    make_class(app, "JZ-1")
    make_class(app, "JZ-2")
    make_class(app, "SZ-1", "市政公用工程")
    rows = [roster_row(class_code="JZ-1"), roster_row(major="市政公用工程", kind="增项", class_code="SZ-1")]
    run_import(app, write_roster(tmp_path / "a.xlsx", rows))
    rows[0] = roster_row(class_code="JZ-2")
    report = run_import(app, write_roster(tmp_path / "b.xlsx", rows))
    assert (report.updated, report.unchanged) == (1, 1)
    assert trainee_by_card(app, ZHOU)[2] == ["JZ-2", "SZ-1"]
    rows[0] = roster_row(class_code=None)  # a roster without the class keeps the membership
    assert run_import(app, write_roster(tmp_path / "c.xlsx", rows)).unchanged == 2
    assert trainee_by_card(app, ZHOU)[2] == ["JZ-2", "SZ-1"]


def test_same_trainee_and_major_twice_in_a_file_keeps_the_first_row(app, tmp_path):
    rows = [roster_row(expires="2027-03-01"), roster_row(kind="增项", expires="2028-03-01")]
    report = run_import(app, write_roster(tmp_path / "dup.xlsx", rows))
    assert report.created == 1 and report.rejected == [(3, "与第2行重复：同一学员同一专业只能有一行")]
    building = trainee_by_card(app, ZHOU)[1]["建筑工程"]
    assert (building.kind, building.registration_expires) == ("main", date(2027, 3, 1))
    assert run_import(app, write_roster(tmp_path / "dup.xlsx", rows)).unchanged == 1


def test_same_trainee_with_other_phone_in_a_file_is_rejected_not_flipped(app, tmp_path):
    rows = [roster_row(), roster_row(phone="13700000009", major="机电工程", kind="增项")]
    report = run_import(app, write_roster(tmp_path / "conflict.xlsx", rows))
    assert report.created == 1
    assert report.rejected == [(3, "与第2行身份证号相同，但手机号不一致")]
    assert trainee_by_card(app, ZHOU)[0].phone == "13912340001"


def test_a_large_roster_takes_a_few_statements_not_one_per_row(app, tmp_path):
    rows = [roster_row(f"学员{n}", id_card(f"3205051990{n // 300 + 1:02d}{n % 28 + 1:02d}{n % 300:03d}"),
                       f"139{n:08d}") for n in range(1500)]
    path = write_roster(tmp_path / "large.xlsx", rows)
    statements = []
    with app.app_context():
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            report = import_roster(db.session, app.extensions["pii"], path)
            again = import_roster(db.session, app.extensions["pii"], path)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
    assert report.created == 1500 and again.unchanged == 1500
    assert len(statements) < 40, len(statements)


@pytest.mark.parametrize("expires", ["明年", "2027-02-30", 12.5])
def test_a_date_that_is_not_a_date_is_rejected(app, tmp_path, expires):
    report = run_import(app, write_roster(tmp_path / "d.xlsx", [roster_row(expires=expires)]))
    assert [n for n, _ in report.rejected] == [2] and "注册有效期" in report.rejected[0][1]


def test_rows_written_in_bulk_carry_their_defaults_and_the_ids_go_on_after_them(app, tmp_path):
    # On PostgreSQL the new trainees, enrollments and class members go in by COPY, their ids drawn
    # from the sequences first: each row as an INSERT would have written it, and the next INSERT
    # of any of them (a trainee added by hand, a second import) takes a fresh id.
    make_class(app)
    rows = [roster_row(f"学员{n}", id_card(f"32050519900{n + 1}01{n:03d}"), f"139{n:08d}", major="建筑工程",
                       expires=datetime(2027, 5, n + 1), class_code="SZ2701-JZ") for n in range(3)]
    report = run_import(app, write_roster(tmp_path / "bulk.xlsx", rows))
    later = run_import(app, write_roster(tmp_path / "later.xlsx", [roster_row(
        "后来者", id_card("32050519910501007"), "13800000001", major="市政公用工程", kind="增项")]))
    with app.app_context():
        cipher = app.extensions["pii"]
        trainees = [(t.id, t.name, t.is_demo, t.company, t.created_at, t.updated_at, cipher.decrypt(t.id_card_enc))
                    for t in db.session.scalars(select(Trainee).order_by(Trainee.id))]
        enrollments = [(e.kind, e.registration_expires, e.fee, e.major.fee_for(e.kind))
                       for e in db.session.scalars(select(Enrollment).order_by(Enrollment.id))]
        members = db.session.scalars(select(ClassMember.created_at)).all()
        db.session.add(Trainee(name="手工", phone="13700000000", id_card_hash="by-hand", id_card_enc="-",
                               id_card_mask="-"))
        db.session.commit()
        by_hand = db.session.scalar(select(Trainee.id).where(Trainee.id_card_hash == "by-hand"))

    assert (report.created, later.created) == (3, 1)
    assert [t[1] for t in trainees] == ["学员0", "学员1", "学员2", "后来者"]
    assert [t[6] for t in trainees] == [row[1] for row in rows] + [id_card("32050519910501007")]
    assert {(t[2], t[3]) for t in trainees} == {(False, "苏州示例建设有限公司")}
    assert all(t[4].tzinfo is not None and t[5].tzinfo is not None for t in trainees)
    assert len({t[0] for t in trainees} | {by_hand}) == 5 and by_hand > trainees[-1][0]
    assert [e[:2] for e in enrollments] == [("main", date(2027, 5, n + 1)) for n in range(3)] + [("added", None)]
    assert all(isinstance(fee, Decimal) and fee == expected for _, _, fee, expected in enrollments)
    assert len(members) == 3 and all(created is not None for created in members)
