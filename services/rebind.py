"""更换绑定的微信: a trainee bound to another WeChat moves the binding to this one, without staff.

Only 认证登录 leads here: a try whose phone and ID card both match a trainee bound elsewhere gives
this WeChat a `Ticket` (the page keeps it in its session: nothing is typed again). With it:

- `send_code` texts a 6-digit code to the phone on the roster, never to a number typed anew,
  through the outbox like every text, sent at once. One code a minute and CODES_PER_DAY a day
  per trainee; a new code replaces the last.
- `move` with the right code, within CODE_TTL_S and used once, moves the binding in one
  transaction: the old WeChat unbound and the new one bound, both in the binding log (自助更换),
  and a word to the old WeChat (if it wasn't them, call the school); then the old WeChat's player
  page stops, as after a staff unbind. MAX_WRONG wrong codes end the code.

Nothing here weakens binding: a ticket exists only after phone and ID card matched; a WeChat or
an address locked by 认证登录 can neither get a code nor move, and a wrong code counts as a wrong
try there too. The code is kept as a keyed digest in Redis (lost with Redis: ask for another).
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

import redis as redis_lib
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import BindingLog, OutboxMessage, Trainee, WechatUser
from models.notices import PENDING, SENDING
from services import ServiceError, keys
from services.db import transaction
from services.identity import binding
from services.identity.followers import BoundTrainee
from services.identity.pii import PiiCipher, mask_phone, short_openid
from services.logfmt import kv
from services.notices import notices
from services.notices.desk import NoticeDesk
from services.study import player
from services.timeutil import SHANGHAI, utcnow

log = logging.getLogger(__name__)

CODE_TTL_S = 300
MAX_WRONG = 5
CODE_GAP_S = 60
CODES_PER_DAY = 5
TICKET_TTL_S = 1800  # how long after 认证登录 matched the move may still be started
SELF_MOVE = "self_move"  # the binding log's reason of both rows of a move
NOTE = "自助更换"

# KEYS[1]: the minute gap, KEYS[2]: today's count. ARGV: gap, per day, the count's lifetime.
# -1: within the minute; -2: the day's codes are spent; else the codes sent today, this one included.
_TAKE_SEND = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[2]) then return -2 end
redis.call('SET', KEYS[1], 1, 'EX', ARGV[1])
local sent = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return sent
"""
# KEYS[1]: the code. ARGV: digest typed, OpenID, now, wrong tries allowed.
# 0: right (the code is gone: one use); -1: no code for this WeChat, or expired; -2: wrong and
# that was the last try (the code is gone); n > 0: wrong, n tries left.
_CHECK = """
local code = redis.call('HGETALL', KEYS[1])
if #code == 0 then return -1 end
local h = {}
for i = 1, #code, 2 do h[code[i]] = code[i + 1] end
if h.openid ~= ARGV[2] or tonumber(h.expires) < tonumber(ARGV[3]) then return -1 end
if h.digest == ARGV[1] then redis.call('DEL', KEYS[1]) return 0 end
local wrong = redis.call('HINCRBY', KEYS[1], 'wrong', 1)
if wrong >= tonumber(ARGV[4]) then redis.call('DEL', KEYS[1]) return -2 end
return tonumber(ARGV[4]) - wrong
"""


class MoveRefused(ServiceError):
    """Why a move or its code was refused; `restart` when the move must start again at 认证登录."""

    def __init__(self, message: str, reason: str, restart: bool = False) -> None:
        super().__init__(message)
        self.reason, self.restart = reason, restart


@dataclass(frozen=True)
class Ticket:
    """A WeChat's right to move a trainee's binding to itself, given when 认证登录 matched."""

    trainee_id: int
    openid: str
    issued_at: float

    def as_dict(self) -> dict[str, object]:
        return {"trainee_id": self.trainee_id, "openid": self.openid, "issued_at": self.issued_at}

    @classmethod
    def from_dict(cls, raw: object, openid: str | None, now: float | None = None) -> Ticket | None:
        """The ticket kept for this OpenID, if it is one and still fresh."""
        if not isinstance(raw, dict) or openid is None:
            return None
        try:
            ticket = cls(int(raw["trainee_id"]), str(raw["openid"]), float(raw["issued_at"]))
        except (KeyError, TypeError, ValueError):
            return None
        fresh = (now if now is not None else time.time()) - ticket.issued_at <= TICKET_TTL_S
        return ticket if fresh and ticket.openid == openid else None


def ticket_for(refused: binding.BindRefused, openid: str, now: float | None = None) -> Ticket | None:
    """The move ticket a refused 认证登录 try earns: only one whose phone and ID card matched a
    trainee bound to another WeChat."""
    if refused.reason != "bound_elsewhere" or refused.trainee_id is None:
        return None
    return Ticket(refused.trainee_id, openid, now if now is not None else time.time())


@dataclass(frozen=True)
class CodeSent:
    phone_mask: str
    expires_in_s: int


def roster_phone_mask(session: Session, ticket: Ticket) -> str:
    trainee = session.get(Trainee, ticket.trainee_id)
    return mask_phone(trainee.phone) if trainee else ""


def send_code(desk: NoticeDesk, redis: redis_lib.Redis, cipher: PiiCipher, ticket: Ticket, ip: str | None,
              now: float | None = None) -> CodeSent:
    """Texts a new code to the trainee's roster phone (replacing any earlier one), sent at once."""
    now = now if now is not None else time.time()
    session = desk.session
    _refuse_if_locked(redis, ticket.openid, ip)
    trainee = _movable(session, ticket)
    _take_send(redis, trainee.id, now)
    code = f"{secrets.randbelow(10 ** 6):06d}"
    name = keys.move_code(trainee.id)
    with redis.pipeline() as pipe:
        pipe.delete(name)
        pipe.hset(name, mapping={"digest": _digest(cipher, ticket, code), "openid": ticket.openid,
                                 "expires": now + CODE_TTL_S, "wrong": 0})
        pipe.expire(name, CODE_TTL_S + 5)
        pipe.execute()
    with transaction(session):
        notice = notices.move_code(session, trainee_id=trainee.id, code=code,
                                   key=f"{trainee.id}:{secrets.token_hex(8)}", now=utcnow())
    desk.dispatcher().run(notice_id=notice.id)  # at once: the trainee is waiting with the page open
    _forget_code(session, notice.id)
    log.info(kv("move_code_sent", trainee=trainee.id, openid=short_openid(ticket.openid), to=mask_phone(trainee.phone)))
    return CodeSent(mask_phone(trainee.phone), CODE_TTL_S)


def move(desk: NoticeDesk, redis: redis_lib.Redis, cipher: PiiCipher, ticket: Ticket, ip: str | None, typed: str,
         now: float | None = None) -> BoundTrainee:
    """Moves the trainee's binding to the ticket's WeChat when `typed` is the code sent for it."""
    now = now if now is not None else time.time()
    code = "".join(c for c in typed[:32] if not c.isspace())
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise MoveRefused("请输入短信中的6位数字验证码", "bad_code")
    _refuse_if_locked(redis, ticket.openid, ip)
    result = int(redis.register_script(_CHECK)(keys=[keys.move_code(ticket.trainee_id)],
                                               args=[_digest(cipher, ticket, code), ticket.openid, now, MAX_WRONG]))
    if result == -1:
        raise MoveRefused("验证码已失效（5分钟内有效，只能用一次）。请重新获取验证码。", "no_code")
    if result != 0:
        _count_wrong(redis, ticket.openid, ip)
        if result == -2:
            wait = binding.LOCK_S // 60
            raise MoveRefused(f"验证码已连续输错{MAX_WRONG}次，本次验证码作废。请{wait}分钟后重新获取。", "code_spent")
        raise MoveRefused(f"验证码不正确，还可再试{result}次。", "wrong_code")
    bound, told = _move(desk, ticket, ip)
    redis.delete(keys.bind_failures("openid", ticket.openid))
    player.close_page(redis, ticket.trainee_id)
    log.info(kv("binding_self_moved", trainee=ticket.trainee_id, openid=short_openid(ticket.openid)))
    if told is not None:
        desk.dispatcher().run(notice_id=told)
    return bound


def _movable(session: Session, ticket: Ticket) -> Trainee:
    """The ticket's trainee, while this WeChat is bound to nobody (the trainee may be bound anywhere)."""
    trainee = session.get(Trainee, ticket.trainee_id)
    if trainee is None:
        raise MoveRefused("未找到该学员，请重新认证登录。", "gone", restart=True)
    mine = session.scalar(select(WechatUser.trainee_id).where(WechatUser.openid == ticket.openid))
    if mine is not None:
        raise MoveRefused("您的微信已认证为学员，无需更换。", "openid_bound", restart=True)
    return trainee


def _move(desk: NoticeDesk, ticket: Ticket, ip: str | None) -> tuple[BoundTrainee, int | None]:
    """One transaction: old WeChat unbound, new one bound, both logged, the old one told (the
    notice's id is returned, to send it at once)."""
    session, now = desk.session, utcnow()
    with transaction(session):
        trainee = session.scalar(select(Trainee).where(Trainee.id == ticket.trainee_id).with_for_update())
        if trainee is None:
            raise MoveRefused("未找到该学员，请重新认证登录。", "gone", restart=True)
        me = session.scalar(select(WechatUser).where(WechatUser.openid == ticket.openid))
        if me is not None and me.trainee_id not in (None, trainee.id):
            raise MoveRefused("您的微信已认证为另一名学员。如有疑问请联系学校。", "openid_bound", restart=True)
        old = session.scalar(select(WechatUser).where(WechatUser.trainee_id == trainee.id))
        old_openid = old.openid if old is not None and old.openid != ticket.openid else None
        masks = {"phone_mask": mask_phone(trainee.phone), "id_card_mask": trainee.id_card_mask}
        if old is not None and old_openid is not None:
            old.trainee_id, old.bound_at = None, None
            session.flush()  # one WeChat per trainee: the old binding goes before the new one comes
            session.add(BindingLog(action="unbound", reason=SELF_MOVE, openid=old_openid, trainee_id=trainee.id,
                                   ip=ip, actor="学员自助", note=NOTE, **masks))
        if me is None:
            me = WechatUser(openid=ticket.openid)
            session.add(me)
        me.trainee_id, me.bound_at = trainee.id, now
        session.add(BindingLog(action="bound", reason=SELF_MOVE, openid=ticket.openid, trainee_id=trainee.id,
                               ip=ip, note=NOTE, **masks))
        told = None
        if old_openid is not None:
            told = notices.binding_moved(session, desk.templates, trainee_id=trainee.id, old_openid=old_openid,
                                         key=f"{trainee.id}:{secrets.token_hex(8)}", now=now).id
        result = BoundTrainee(trainee.id, trainee.name, trainee.company)
    return result, told


def _forget_code(session: Session, notice_id: int) -> None:
    """The outbox keeps no code once its text is settled (a row still to be retried keeps it)."""
    with transaction(session):
        session.execute(update(OutboxMessage).where(OutboxMessage.notice_id == notice_id,
                                                    OutboxMessage.state.not_in((PENDING, SENDING)))
                        .values(params={"code": "******"}).execution_options(synchronize_session=False))


def _digest(cipher: PiiCipher, ticket: Ticket, code: str) -> str:
    # Keyed: whoever reads Redis can't try the million codes against the digest offline.
    return cipher.lookup_hash(f"move:{ticket.trainee_id}:{ticket.openid}:{code}")


def _take_send(redis: redis_lib.Redis, trainee_id: int, now: float) -> None:
    day = datetime.fromtimestamp(now, SHANGHAI).strftime("%Y%m%d")
    sent = int(redis.register_script(_TAKE_SEND)(
        keys=[keys.move_code_gap(trainee_id), keys.move_codes_sent(trainee_id, day)],
        args=[CODE_GAP_S, CODES_PER_DAY, 2 * 86400]))
    if sent == -1:
        raise MoveRefused("验证码刚刚已发送，请1分钟后再重新获取。", "too_soon")
    if sent == -2:
        raise MoveRefused(f"今天获取验证码已达{CODES_PER_DAY}次，请明天再试，或致电学校办理。", "daily_limit")


def _scopes(openid: str, ip: str | None) -> list[tuple[str, str]]:
    return [("openid", openid)] + ([("ip", ip)] if ip else [])


def _refuse_if_locked(redis: redis_lib.Redis, openid: str, ip: str | None) -> None:
    """The WeChat's and the address's 认证登录 locks hold here too."""
    if redis.exists(*[keys.bind_lock(scope, who) for scope, who in _scopes(openid, ip)]):
        raise MoveRefused(f"尝试次数过多，请{binding.LOCK_S // 60}分钟后再试。如需帮助请致电学校。", "locked")


def _count_wrong(redis: redis_lib.Redis, openid: str, ip: str | None) -> None:
    """A wrong code is a wrong 认证登录 try of the WeChat and the address: the same counts and locks."""
    for scope, who in _scopes(openid, ip):
        tries = int(redis.incr(keys.bind_failures(scope, who)))
        if tries == 1:
            redis.expire(keys.bind_failures(scope, who), binding.WINDOW_S)
        if tries >= binding.LIMITS[scope]:
            redis.set(keys.bind_lock(scope, who), 1, ex=binding.LOCK_S)
