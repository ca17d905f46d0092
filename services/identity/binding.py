"""认证登录: binding a WeChat OpenID to the roster trainee whose phone and ID card both match,
and staff unbinding it again.

Every refusal says why in Chinese and binds nothing. Tries that reach the roster and fail are
counted in Redis per OpenID and per IP: past the limit within `WINDOW_S` both are locked for
`LOCK_S` (format mistakes are not counted: they can't probe the roster). Every attempt, bind and
unbind is written to the binding log with phone and ID card masked.
"""
from __future__ import annotations

from dataclasses import dataclass

import redis as redis_lib
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import BindingLog, Trainee, WechatUser
from services import ServiceError
from services.identity.followers import BoundTrainee
from services.identity.pii import (
    InvalidIdCard, InvalidPhone, PiiCipher, mask_id_card, mask_phone, normalize_id_card, normalize_phone,
    validate_id_card,
)
from services import keys
from services.study import progress
from services.timeutil import utcnow

WINDOW_S = 600
LOCK_S = 1800
LIMITS = {"openid": 5, "ip": 20}  # an IP may be a whole company's Wi-Fi or a carrier's NAT


class BindRefused(ServiceError):
    """Why a 认证登录 try was refused; `field` names the form field the message belongs to;
    `trainee_id` the trainee the try was for, when phone or ID card told (the log keeps it, so
    staff see a new phone's refused tries when the trainee calls about changing WeChat)."""

    def __init__(self, message: str, reason: str, field: str | None = None, counted: bool = True,
                 trainee_id: int | None = None):
        super().__init__(message)
        self.reason, self.field, self.counted, self.trainee_id = reason, field, counted, trainee_id


class UnbindError(ServiceError):
    pass


@dataclass(frozen=True)
class Attempt:
    openid: str
    ip: str | None
    phone: str
    id_card: str


def bind(session: Session, redis: redis_lib.Redis, cipher: PiiCipher, attempt: Attempt) -> BoundTrainee:
    try:
        trainee = _check(session, redis, cipher, attempt)
        _attach(session, attempt.openid, trainee)
        _record(session, attempt, "bound", trainee_id=trainee.id)
    except BindRefused as refused:
        session.rollback()
        _record(session, attempt, "refused", refused.reason, refused.trainee_id)
        if refused.counted:
            _count_failure(redis, attempt)
        raise
    _clear_failures(redis, attempt)
    return BoundTrainee(trainee.id, trainee.name)


def _check(session: Session, redis: redis_lib.Redis, cipher: PiiCipher, attempt: Attempt) -> Trainee:
    if _locked(redis, attempt):
        raise BindRefused(f"尝试次数过多，请{LOCK_S // 60}分钟后再试。如有疑问请联系学校。", "locked", counted=False)
    try:
        phone = normalize_phone(attempt.phone)
    except InvalidPhone as exc:
        raise BindRefused(exc.message, "bad_phone", "phone", counted=False) from None
    try:
        id_card = validate_id_card(attempt.id_card)
    except InvalidIdCard as exc:
        raise BindRefused(exc.message, "bad_id_card", "id_card", counted=False) from None
    return _match(session, cipher, phone, id_card)


def _match(session: Session, cipher: PiiCipher, phone: str, id_card: str) -> Trainee:
    id_hash = cipher.lookup_hash(id_card)
    by_id = session.scalar(select(Trainee).where(Trainee.id_card_hash == id_hash))
    if by_id is not None and by_id.phone == phone:
        return by_id
    if by_id is not None:
        raise BindRefused("该身份证号报名时预留的是另一个手机号。请填写报名时预留的手机号（可询问公司经办人）。",
                          "phone_mismatch", "phone", trainee_id=by_id.id)
    if session.scalar(select(Trainee.id).where(Trainee.phone == phone).limit(1)) is None:
        raise BindRefused("没有找到用这个手机号报名的学员。请填写报名时预留的手机号（可询问公司经办人）。",
                          "unknown_phone", "phone")
    raise BindRefused("身份证号与这个手机号报名的学员不一致，请核对后重新填写。", "id_mismatch", "id_card")


def _attach(session: Session, openid: str, trainee: Trainee) -> None:
    user = session.scalar(select(WechatUser).where(WechatUser.openid == openid))
    if user is not None and user.trainee_id not in (None, trainee.id):
        raise BindRefused("您的微信已认证为另一名学员。如有疑问请联系学校。", "openid_bound_other", counted=False,
                          trainee_id=trainee.id)
    holder = session.scalar(
        select(WechatUser.id).where(WechatUser.trainee_id == trainee.id, WechatUser.openid != openid)
    )
    if holder is not None:
        raise BindRefused("该学员已绑定其他微信。如需更换微信，请联系学校办理。", "bound_elsewhere",
                          trainee_id=trainee.id)
    if user is None:
        user = WechatUser(openid=openid)
        session.add(user)
    user.trainee_id, user.bound_at = trainee.id, utcnow()


def _record(session: Session, attempt: Attempt, action: str, reason: str = "", trainee_id: int | None = None):
    """Adds the log row and commits (with the binding itself, for a bind)."""
    session.add(BindingLog(
        action=action, reason=reason, openid=attempt.openid, trainee_id=trainee_id, ip=attempt.ip,
        phone_mask=mask_phone(_digits(attempt.phone)), id_card_mask=mask_id_card(normalize_id_card(attempt.id_card)),
    ))
    try:
        session.commit()
    except IntegrityError:  # another WeChat bound the same trainee a moment ago
        raise BindRefused("该学员已绑定其他微信。如需更换微信，请联系学校办理。", "bound_elsewhere",
                          trainee_id=trainee_id) from None


def _digits(raw: str) -> str:
    return "".join(c for c in str(raw) if c.isdigit())[:16]


def _scopes(attempt: Attempt) -> list[tuple[str, str]]:
    return [("openid", attempt.openid)] + ([("ip", attempt.ip)] if attempt.ip else [])


def _locked(redis: redis_lib.Redis, attempt: Attempt) -> bool:
    return bool(redis.exists(*[keys.bind_lock(scope, who) for scope, who in _scopes(attempt)]))


def _count_failure(redis: redis_lib.Redis, attempt: Attempt) -> None:
    for scope, who in _scopes(attempt):
        pipe = redis.pipeline()
        pipe.incr(keys.bind_failures(scope, who))
        pipe.expire(keys.bind_failures(scope, who), WINDOW_S, nx=True)
        failures, _ = pipe.execute()
        if failures >= LIMITS[scope]:
            redis.set(keys.bind_lock(scope, who), 1, ex=LOCK_S)
            redis.delete(keys.bind_failures(scope, who))


def _clear_failures(redis: redis_lib.Redis, attempt: Attempt) -> None:
    redis.delete(keys.bind_failures("openid", attempt.openid))


def find_trainee(session: Session, cipher: PiiCipher, phone_or_id: str) -> Trainee:
    """The one trainee a staff member means by a phone number or an ID card number."""
    value = normalize_id_card(phone_or_id)
    if len(value) == 18:
        trainee = session.scalar(select(Trainee).where(Trainee.id_card_hash == cipher.lookup_hash(value)))
        if trainee is None:
            raise UnbindError(f"没有身份证号为 {mask_id_card(value)} 的学员")
        return trainee
    try:
        phone = normalize_phone(phone_or_id)
    except InvalidPhone:
        raise UnbindError("请输入学员的手机号（11位）或身份证号（18位）") from None
    found = session.scalars(select(Trainee).where(Trainee.phone == phone)).all()
    if not found:
        raise UnbindError(f"没有手机号为 {mask_phone(phone)} 的学员")
    if len(found) > 1:
        masks = "、".join(f"{t.name}（{t.id_card_mask}）" for t in found)
        raise UnbindError(f"手机号 {mask_phone(phone)} 对应多名学员：{masks}；请改用身份证号")
    return found[0]


def history(session: Session, trainee_id: int, limit: int = 20) -> list[BindingLog]:
    """The trainee's binds, staff unbinds and the refused tries known to be for them, newest first."""
    return list(session.scalars(
        select(BindingLog).where(BindingLog.trainee_id == trainee_id)
        .order_by(BindingLog.at.desc(), BindingLog.id.desc()).limit(limit)
    ))


def unbind(session: Session, redis: redis_lib.Redis, cipher: PiiCipher, phone_or_id: str, actor: str,
           note: str) -> tuple[Trainee, bool]:
    """Staff releases a trainee's WeChat so that they can bind another, and stops a player page
    left open in it; returns (trainee, whether a page was stopped)."""
    if not actor.strip() or not note.strip():
        raise UnbindError("解绑需要写明操作人和原因")
    trainee = find_trainee(session, cipher, phone_or_id)
    user = session.scalar(select(WechatUser).where(WechatUser.trainee_id == trainee.id))
    if user is None:
        raise UnbindError(f"学员 {trainee.name}（{mask_phone(trainee.phone)}）尚未绑定微信")
    user.trainee_id, user.bound_at = None, None
    session.add(BindingLog(action="unbound", openid=user.openid, trainee_id=trainee.id, actor=actor.strip()[:64],
                           note=note.strip()[:200], phone_mask=mask_phone(trainee.phone),
                           id_card_mask=trainee.id_card_mask))
    session.commit()
    return trainee, progress.close_page(redis, trainee.id)
