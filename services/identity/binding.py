"""认证登录: binding a WeChat OpenID to the roster trainee whose phone and ID card both match,
and staff unbinding it again.

Every refusal says why in Chinese and binds nothing; a phone / ID card pair that matches no
trainee gets one answer whichever number is wrong, so the page tells nobody whether a number is on
the roster. Each try that reaches the roster is counted in Redis first, per OpenID and per IP, by
one script that also refuses it past the limit: 25 simultaneous tries from one WeChat reach the
roster at most `LIMITS["openid"]` times. A try that binds gives its count back. The per-OpenID
limit stops a person guessing; the per-IP one only a machine (a class on the school's Wi-Fi or a
carrier's NAT shares one address). Format mistakes are not counted: they can't probe the roster.
Every attempt, bind and unbind is written to the binding log with phone and ID card masked; staff
lift the locks of every WeChat that tried a trainee with `unlock_trainee`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis as redis_lib
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import BindingLog, Trainee, WechatUser
from services import ServiceError, keys
from services.db import found, transaction
from services.identity import audit
from services.identity.followers import BoundTrainee
from services.identity.pii import (
    InvalidIdCard,
    InvalidPhone,
    PiiCipher,
    mask_id_card,
    mask_phone,
    normalize_id_card,
    normalize_phone,
    validate_id_card,
)
from services.timeutil import utcnow

WINDOW_S = 600
LOCK_S = 1800
# Tries reaching the roster per WINDOW_S: a person, and an address (a machine guard: a whole
# classroom's Wi-Fi or a carrier's NAT is one address).
LIMITS = {"openid": 5, "ip": 300}
ID_CARD_MAX_TYPED = 40  # longer input is refused before anything else looks at it
MISMATCH = ("手机号与身份证号不匹配。请核对两个号码：手机号须是报名时预留的那个（可询问公司经办人），"
            "身份证号须是本人的18位号码。核对无误仍不能认证，请致电学校。")

# Why a try was refused, for staff (the console's trainee page, `trainee show`): the binding log's `reason`.
REFUSAL_LABELS = {
    "phone_mismatch": "手机号不匹配", "id_mismatch": "身份证号不匹配", "unknown_phone": "手机号和身份证号都不在名单上",
    "bad_phone": "手机号格式不对", "bad_id_card": "身份证号格式不对", "locked": "尝试次数过多，已锁定",
    "openid_bound_other": "该微信已认证为另一名学员", "bound_elsewhere": "该学员已绑定其他微信",
}

# KEYS: per scope, its lock key then its counter key. ARGV[1]: the window, then each scope's limit and
# lock time. Counts the try in every scope, then refuses it (0) when a scope is locked or over its
# limit (locking it), else 1. Counting first is what makes simultaneous tries unable to slip past.
_COUNT_TRY = """
local window = tonumber(ARGV[1])
local scopes = #KEYS / 2
for i = 1, scopes do
  if redis.call('EXISTS', KEYS[2 * i - 1]) == 1 then return 0 end
end
local allowed = 1
for i = 1, scopes do
  local tries = redis.call('INCR', KEYS[2 * i])
  if tries == 1 then redis.call('EXPIRE', KEYS[2 * i], window) end
  if tries > tonumber(ARGV[2 * i]) then
    redis.call('SET', KEYS[2 * i - 1], 1, 'EX', ARGV[2 * i + 1])
    allowed = 0
  end
end
return allowed
"""
# KEYS: counters to give one try back to (a counter that has expired stays gone).
_GIVE_BACK = """
for i = 1, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
"""


class BindRefused(ServiceError):
    """Why a 认证登录 try was refused; `field` names the form field the message belongs to;
    `trainee_id` the trainee the try was for, when phone or ID card told (the log keeps it, so
    staff see a new phone's refused tries when the trainee calls about changing WeChat); `also`
    another trainee the same try named (one's ID card, another's phone), with its reason as seen
    from them: the try counts for both, so unlocking either lifts its lock."""

    def __init__(self, message: str, reason: str, field: str | None = None, counted: bool = True,
                 trainee_id: int | None = None, also: tuple[int, str] | None = None) -> None:
        super().__init__(message)
        self.reason, self.field, self.counted, self.trainee_id = reason, field, counted, trainee_id
        self.also = also


class UnbindError(ServiceError):
    pass


@dataclass(frozen=True)
class Attempt:
    openid: str
    ip: str | None
    phone: str
    id_card: str


def bind(session: Session, redis: redis_lib.Redis, cipher: PiiCipher, attempt: Attempt) -> BoundTrainee:
    """Binds the attempt's OpenID to the trainee its phone and ID card name, or raises BindRefused.
    Redis errors propagate: without the counters no try may reach the roster."""
    counted = False
    try:
        phone, id_card = _formats(attempt)
        counted = _count_try(redis, attempt)
        trainee = _match(session, cipher, phone, id_card)
        _attach(session, attempt.openid, trainee)
        _record(session, attempt, "bound", trainee_id=trainee.id)
    except BindRefused as refused:
        session.rollback()
        _record(session, attempt, "refused", refused.reason, refused.trainee_id, refused.also)
        if counted and not refused.counted:
            _give_back(redis, attempt, clear=False)
        elif counted:
            _lock_if_spent(redis, attempt)
        raise
    _give_back(redis, attempt, clear=True)
    return BoundTrainee(trainee.id, trainee.name, trainee.company)


def _formats(attempt: Attempt) -> tuple[str, str]:
    """Format mistakes, field by field (the ID card's length first: nothing else reads a long one)."""
    try:
        phone = normalize_phone(attempt.phone[:ID_CARD_MAX_TYPED])
    except InvalidPhone as exc:
        raise BindRefused(exc.message, "bad_phone", "phone", counted=False) from None
    if len(attempt.id_card) > ID_CARD_MAX_TYPED:
        raise BindRefused("身份证号应为18位", "bad_id_card", "id_card", counted=False)
    try:
        id_card = validate_id_card(attempt.id_card)
    except InvalidIdCard as exc:
        raise BindRefused(exc.message, "bad_id_card", "id_card", counted=False) from None
    return phone, id_card


def _match(session: Session, cipher: PiiCipher, phone: str, id_card: str) -> Trainee:
    """The trainee whose phone and ID card both match. Any mismatch gets the one MISMATCH answer;
    the log keeps which number was off and the trainee it was for, for staff."""
    id_hash = cipher.lookup_hash(id_card)
    by_id = session.scalar(select(Trainee).where(Trainee.id_card_hash == id_hash))
    if by_id is not None and by_id.phone == phone:
        return by_id
    by_phone = session.scalars(select(Trainee.id).where(Trainee.phone == phone).limit(2)).all()
    phone_owner = by_phone[0] if len(by_phone) == 1 else None
    if by_id is not None:
        raise BindRefused(MISMATCH, "phone_mismatch", trainee_id=by_id.id,
                          also=(phone_owner, "id_mismatch") if phone_owner is not None else None)
    if not by_phone:
        raise BindRefused(MISMATCH, "unknown_phone")
    raise BindRefused(MISMATCH, "id_mismatch", trainee_id=phone_owner)


def _attach(session: Session, openid: str, trainee: Trainee) -> None:
    user = session.scalar(select(WechatUser).where(WechatUser.openid == openid))
    if user is not None and user.trainee_id not in (None, trainee.id):
        raise BindRefused("您的微信已认证为另一名学员。如有疑问请联系学校。", "openid_bound_other", counted=False,
                          trainee_id=trainee.id)
    holder = session.scalar(
        select(WechatUser.id).where(WechatUser.trainee_id == trainee.id, WechatUser.openid != openid)
    )
    if holder is not None:
        # Not counted: phone and ID card matched, no guess (更换绑定的微信 starts from here).
        raise BindRefused("该学员已绑定其他微信。如需更换微信，请联系学校办理。", "bound_elsewhere",
                          counted=False, trainee_id=trainee.id)
    if user is None:
        user = WechatUser(openid=openid)
        session.add(user)
    user.trainee_id, user.bound_at = trainee.id, utcnow()


def _record(session: Session, attempt: Attempt, action: str, reason: str = "", trainee_id: int | None = None,
            also: tuple[int, str] | None = None) -> None:
    """Adds the log row (one more for the other trainee a refused try named) and commits (with
    the binding itself, for a bind)."""
    for who, why in [(trainee_id, reason)] + ([also] if also else []):
        session.add(BindingLog(
            action=action, reason=why, openid=attempt.openid, trainee_id=who, ip=attempt.ip,
            phone_mask=mask_phone(_digits(attempt.phone)), id_card_mask=typed_id_card_mask(attempt.id_card),
        ))
    try:
        session.commit()
    except IntegrityError:  # another WeChat bound the same trainee a moment ago
        raise BindRefused("该学员已绑定其他微信。如需更换微信，请联系学校办理。", "bound_elsewhere",
                          trainee_id=trainee_id) from None


def typed_id_card_mask(raw: str) -> str:
    """The mask of whatever was typed, never longer than an ID card (the log's column holds 18)."""
    value = normalize_id_card(raw[:ID_CARD_MAX_TYPED]).replace("\x00", "")  # PostgreSQL holds no NUL
    return mask_id_card(value) if len(value) <= 18 else mask_id_card(value[:14] + value[-4:])


def _digits(raw: str) -> str:
    return "".join(c for c in str(raw) if c.isdigit())[:16]


def _scopes(attempt: Attempt) -> list[tuple[str, str]]:
    return [("openid", attempt.openid)] + ([("ip", attempt.ip)] if attempt.ip else [])


def _count_try(redis: redis_lib.Redis, attempt: Attempt) -> bool:
    """Counts a try about to reach the roster, in one atomic step; refuses it when locked."""
    keys_: list[str] = []
    args: list[int] = [WINDOW_S]
    for scope, who in _scopes(attempt):
        keys_ += [keys.bind_lock(scope, who), keys.bind_failures(scope, who)]
        args += [LIMITS[scope], LOCK_S]
    if not redis.register_script(_COUNT_TRY)(keys=keys_, args=args):
        raise BindRefused(f"尝试次数过多，请{LOCK_S // 60}分钟后再试。如需帮助请致电学校。", "locked",
                          counted=False)
    return True


def _lock_if_spent(redis: redis_lib.Redis, attempt: Attempt) -> None:
    """The failure that spends a scope's last try locks it at once, for LOCK_S."""
    for scope, who in _scopes(attempt):
        if int(redis.get(keys.bind_failures(scope, who)) or 0) >= LIMITS[scope]:
            redis.set(keys.bind_lock(scope, who), 1, ex=LOCK_S)


def _give_back(redis: redis_lib.Redis, attempt: Attempt, clear: bool) -> None:
    """A try that matched the roster was no guess: its count is given back (a bind clears the
    WeChat's count altogether)."""
    counters = [keys.bind_failures(scope, who) for scope, who in _scopes(attempt)]
    if clear:
        redis.delete(counters[0])
        counters = counters[1:]
    if counters:
        redis.register_script(_GIVE_BACK)(keys=counters)


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


def staff_trainee(session: Session, trainee_id: int) -> Trainee:
    """The trainee a staff action names by id (the console's pages and, after `find_trainee`, the CLI)."""
    return found(session, Trainee, trainee_id, "没有这名学员", UnbindError)


@dataclass(frozen=True)
class Unbound:
    trainee: Trainee
    page_stopped: bool  # a player page left open in the old WeChat was stopped


def unbind(session: Session, trainee_id: int, actor: str, reason: str, close_page: Callable[[int], bool]) -> Unbound:
    """Staff releases a trainee's WeChat so that they can bind another, recorded in the binding log
    and the audit log in one transaction, then stops a player page left open in it with
    `close_page(trainee_id)` (the player's, `services.study.player.close_page`, handed in by the
    caller: identity sits below study and calls nothing of it)."""
    if not actor.strip():
        raise UnbindError("请写明操作人")
    if not reason.strip():
        raise UnbindError("请填写解绑原因")
    with transaction(session):
        trainee = staff_trainee(session, trainee_id)
        user = session.scalar(select(WechatUser).where(WechatUser.trainee_id == trainee.id))
        if user is None:
            raise UnbindError(f"学员 {trainee.name}（{mask_phone(trainee.phone)}）尚未绑定微信", status=409)
        user.trainee_id, user.bound_at = None, None
        session.add(BindingLog(action="unbound", openid=user.openid, trainee_id=trainee.id,
                               actor=actor.strip()[:64], note=reason.strip()[:200],
                               phone_mask=mask_phone(trainee.phone), id_card_mask=trainee.id_card_mask))
        audit.record(session, actor.strip(), "trainee_unbound", f"trainee:{trainee.id}",
                     f"{trainee.name}（{trainee.id_card_mask}）：{reason.strip()[:200]}")
    return Unbound(trainee, close_page(trainee.id))


@dataclass(frozen=True)
class Unlocked:
    trainee: Trainee
    wechats: int  # WeChats that ever tried to bind this trainee
    lifted: int  # locks lifted (of those WeChats and of the addresses they tried from)


def unlock_trainee(session: Session, redis: redis_lib.Redis, trainee_id: int, actor: str) -> Unlocked:
    """Staff lifts the binding locks of every WeChat that tried to bind this trainee (a try is
    known to be for them when its phone or ID card named them), and of the addresses those tries
    came from, and clears their counts: the trainee can try again at once. Recorded."""
    with transaction(session):
        trainee = staff_trainee(session, trainee_id)
        tried = session.execute(
            select(BindingLog.openid, BindingLog.ip).where(BindingLog.trainee_id == trainee.id).distinct()
        ).all()
        openids = {openid for openid, _ in tried if openid}
        scopes = [("openid", o) for o in sorted(openids)] + [("ip", ip) for ip in sorted({ip for _, ip in tried if ip})]
        lifted = 0
        if scopes:
            lifted = int(redis.delete(*[keys.bind_lock(scope, who) for scope, who in scopes]))
            redis.delete(*[keys.bind_failures(scope, who) for scope, who in scopes])
        audit.record(session, actor, "binding_unlocked", f"trainee:{trainee.id}", f"{trainee.name}"
                     f"（{trainee.id_card_mask}）：解除认证锁定 {lifted} 项（涉及微信 {len(openids)} 个）")
    return Unlocked(trainee, len(openids), lifted)
