"""`staff create`: a staff account with a hashed password, from --password or a hidden prompt."""
from __future__ import annotations

import getpass

import pytest
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash

from models import StaffUser, db

PASSWORD = "Jiaowu2027ok"


def accounts(app) -> list[StaffUser]:
    with app.app_context():
        return db.session.query(StaffUser).all()


def test_create_with_password_option_stores_only_a_hash(app, runner):
    result = runner.invoke(args=["staff", "create", "Wang.Li", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert "已创建教务账号：wang.li" in result.output and PASSWORD not in result.output
    [user] = accounts(app)
    assert user.username == "wang.li" and user.active and user.created_by == getpass.getuser()  # no --by: the OS user
    assert PASSWORD not in user.password_hash and check_password_hash(user.password_hash, PASSWORD)
    assert not check_password_hash(user.password_hash, PASSWORD.lower())


def test_create_asks_for_the_password_twice_without_echo(app, runner):
    result = runner.invoke(args=["staff", "create", "zhao"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "密码" in result.output and PASSWORD not in result.output
    [user] = accounts(app)
    assert check_password_hash(user.password_hash, PASSWORD)


def test_two_different_passwords_create_nothing(app, runner):
    result = runner.invoke(args=["staff", "create", "zhao"], input=f"{PASSWORD}\nJiaowu2027oK\n")
    assert result.exit_code == 1 and "两次输入的密码不一致" in result.output
    assert accounts(app) == []


def test_an_existing_username_is_refused_before_any_prompt(app, runner):
    assert runner.invoke(args=["staff", "create", "zhao", "--password", PASSWORD]).exit_code == 0
    result = runner.invoke(args=["staff", "create", "ZHAO"])  # no input: a prompt would abort
    assert result.exit_code == 1 and "用户名 zhao 已存在" in result.output
    assert len(accounts(app)) == 1


@pytest.mark.parametrize("username, password, message", [
    ("王老师", PASSWORD, "用户名须为"),
    ("ab", PASSWORD, "用户名须为"),
    ("1wang", PASSWORD, "用户名须为"),
    ("wang", "short1a", "密码至少 10 位"),
    ("wang", "1234567890123", "须同时包含字母和数字"),
    ("wang", "abcdefghijkl", "须同时包含字母和数字"),
    ("wang", "a1a1a1a1a1a1", "过于简单"),
])
def test_bad_username_or_weak_password_creates_nothing(app, runner, username, password, message):
    result = runner.invoke(args=["staff", "create", username, "--password", password])
    assert result.exit_code == 1 and message in result.output
    assert accounts(app) == []


def test_the_database_keeps_usernames_unique_and_lower_case(app):
    with app.app_context():
        db.session.add(StaffUser(username="li", password_hash="x"))
        db.session.commit()
        for name in ("li", "Li"):
            db.session.add(StaffUser(username=name, password_hash="x"))
            with pytest.raises(IntegrityError):
                db.session.commit()
            db.session.rollback()
