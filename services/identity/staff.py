"""Staff accounts (教务人员): created from the command line (`staff create`), used in the staff console.

Passwords are kept as salted scrypt hashes (Werkzeug's `generate_password_hash`), never in clear.
Logging in is limited per username (CONTRACT §9): 5 refused passwords within 15 minutes lock the
username for 15 minutes, counted in Redis so that every worker and host shares the count.
"""
from __future__ import annotations

import functools
import re
from datetime import datetime

import redis as redis_lib
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from models import StaffUser
from models.staff import ROLE_STAFF, ROLES
from services import ServiceError, keys
from services.db import transaction
from services.identity import audit, staff_sessions

USERNAME = re.compile(r"[a-z][a-z0-9_.-]{2,31}")
MIN_PASSWORD = 10
LOGIN_LIMIT = 5
LOGIN_WINDOW_S = 15 * 60
LOGIN_LOCK_S = 15 * 60
ROLE_LABELS = {"admin": "管理员", "staff": "教务"}


class StaffError(ServiceError):
    pass


class LoginRefused(StaffError):
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


def create(session: Session, username: str, password: str, actor: str, role: str = ROLE_STAFF) -> StaffUser:
    """Creates a staff account, recorded in the audit log in the same transaction."""
    name = check_username(session, username)
    check_password(password)
    if role not in ROLES:
        raise StaffError("角色须为 admin 或 staff")
    try:
        with transaction(session):
            user = StaffUser(username=name, password_hash=generate_password_hash(password), created_by=actor[:64],
                             role=role)
            session.add(user)
            audit.record(session, actor, "staff_created", f"staff:{name}", f"创建{ROLE_LABELS[role]}账号 {name}")
    except IntegrityError:  # created by someone else since the check
        raise StaffError(f"用户名 {name} 已存在") from None
    return user


def authenticate(session: Session, redis: redis_lib.Redis, username: str, password: str) -> StaffUser:
    """The active account with this username and password, or LoginRefused (counted per username)."""
    name = username.strip().lower()[:64]
    if not name or not password:
        raise LoginRefused("请输入用户名和密码")
    if redis.exists(keys.staff_login_lock(name)):
        raise LoginRefused(f"该账号密码错误次数过多，已锁定 {LOGIN_LOCK_S // 60} 分钟，请稍后再试")
    user = session.scalar(select(StaffUser).where(StaffUser.username == name))
    ok = check_password_hash(user.password_hash if user else _dummy_hash(), password)
    if user is None or not ok or not user.active:
        left = _count_failure(redis, name)
        if left <= 0:
            raise LoginRefused(f"用户名或密码错误；该账号已锁定 {LOGIN_LOCK_S // 60} 分钟")
        raise LoginRefused(f"用户名或密码错误（再错 {left} 次将锁定 {LOGIN_LOCK_S // 60} 分钟）")
    redis.delete(keys.staff_login_failures(name))
    return user


def log_in(session: Session, redis: redis_lib.Redis, username: str, password: str,
           now: datetime) -> tuple[StaffUser, str]:
    """`authenticate`, then a new server-side session (its token for the cookie), recorded."""
    user = authenticate(session, redis, username, password)
    with transaction(session):
        token = staff_sessions.open_session(session, user.id, now)
        audit.record(session, user.username, "logged_in", f"staff:{user.username}", "")
    return user, token


def accounts(session: Session) -> list[StaffUser]:
    """Every staff account, for the admins' list."""
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))


def set_active(session: Session, username: str, active: bool, actor: str, now: datetime) -> StaffUser:
    """An admin disables an account (every session of it ends at once) or enables it again; recorded."""
    user = session.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
    if user is None:
        raise StaffError(f"没有用户名为 {username.strip()[:32]} 的教务账号")
    if not active and user.username == actor:
        raise StaffError("不能停用自己正在使用的账号")
    with transaction(session):
        user.active = active
        if not active:
            staff_sessions.end_all(session, user.id, now)
        audit.record(session, actor, "staff_enabled" if active else "staff_disabled", f"staff:{user.username}",
                     f"{'启用' if active else '停用'}账号 {user.username}")
    return user


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the username is unknown, so that a wrong name costs as long as a wrong
    password; made on first use (a scrypt hash at import would slow every process's start)."""
    return generate_password_hash("no such staff account 0")


def _count_failure(redis: redis_lib.Redis, name: str) -> int:
    """Counts one refused login in a MULTI block; returns how many tries are left before the lock."""
    pipe = redis.pipeline(transaction=True)
    pipe.incr(keys.staff_login_failures(name))
    pipe.expire(keys.staff_login_failures(name), LOGIN_WINDOW_S, nx=True)
    failures = int(pipe.execute()[0])
    if failures >= LOGIN_LIMIT:
        pipe = redis.pipeline(transaction=True)
        pipe.set(keys.staff_login_lock(name), 1, ex=LOGIN_LOCK_S)
        pipe.delete(keys.staff_login_failures(name))
        pipe.execute()
    return LOGIN_LIMIT - failures


def change_password(session: Session, user_id: int, current: str, new: str, repeat: str, keep_token: str,
                    now: datetime) -> StaffUser:
    """Sets a new password after checking the current one, recorded in the audit log, and ends
    every other session of the account (the one of `keep_token`, which changed it, goes on)."""
    user = session.get(StaffUser, user_id)
    if user is None or not check_password_hash(user.password_hash, current):
        raise StaffError("当前密码不正确")
    if new != repeat:
        raise StaffError("两次输入的新密码不一致")
    if new == current:
        raise StaffError("新密码不能与当前密码相同")
    check_password(new)
    with transaction(session):
        user.password_hash = generate_password_hash(new)
        staff_sessions.end_all(session, user.id, now, keep_token)
        audit.record(session, user.username, "password_changed", f"staff:{user.username}", "修改了自己的密码")
    return user
