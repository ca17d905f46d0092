"""Staff accounts (教务人员): created from the command line (`staff create`), for the staff console.

Passwords are kept as salted scrypt hashes (Werkzeug's `generate_password_hash`), never in clear.
"""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from models import StaffUser
from services import ServiceError

USERNAME = re.compile(r"[a-z][a-z0-9_.-]{2,31}")
MIN_PASSWORD = 10


class StaffError(ServiceError):
    pass


def check_username(session: Session, username: str) -> str:
    """The username as stored (lower case), or StaffError when it is malformed or taken."""
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        raise StaffError("用户名须为 3–32 位英文字母、数字或 . _ -，以字母开头")
    if session.scalar(select(StaffUser.id).where(StaffUser.username == name)) is not None:
        raise StaffError(f"用户名 {name} 已存在")
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"密码至少 {MIN_PASSWORD} 位")
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        raise StaffError("密码须同时包含字母和数字")
    if len(set(password)) < 5:
        raise StaffError("密码过于简单，请换一个")


def create(session: Session, username: str, password: str, created_by: str) -> StaffUser:
    name = check_username(session, username)
    check_password(password)
    user = StaffUser(username=name, password_hash=generate_password_hash(password), created_by=created_by[:64])
    session.add(user)
    try:
        session.commit()
    except IntegrityError:  # created by someone else since the check
        session.rollback()
        raise StaffError(f"用户名 {name} 已存在") from None
    return user
