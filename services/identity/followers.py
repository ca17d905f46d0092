"""Who is behind an OpenID: followers of the account and the trainee each is bound to.

Following is three-valued (models.wechat): True once seen following, False once seen leaving,
None while unknown. Any message or menu event shows an OpenID follows (`note_activity`);
`unsubscribe` and a send answered 43004 show it does not; `follower sync` (followers_sync.py)
reads WeChat's follower list.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from models import Trainee, WechatUser
from services.db import table_of, transaction
from services.identity.pii import mask_phone
from services.wechat_api import BATCHGET_MAX, WeChatApi, follower_page, follows

# Who template messages go to: every WeChat not known to have unfollowed (following or unknown).
# The one rule for the notices that are written, the outbox that sends them and the console's
# count before a class-open notice.
NOT_UNFOLLOWED = WechatUser.subscribed.is_not(False)


@dataclass(frozen=True)
class BoundTrainee:
    """The little the chat and the portal's greeting need of the trainee behind an OpenID."""

    id: int
    name: str
    company: str


def _wechat_user(session: Session, openid: str) -> WechatUser:
    user = session.scalar(select(WechatUser).where(WechatUser.openid == openid))
    if user is None:
        user = WechatUser(openid=openid)
        session.add(user)
    return user


def record_subscribe(session: Session, openid: str, at: datetime) -> BoundTrainee | None:
    """Marks the OpenID as following; returns the trainee it is bound to, if any."""
    user = _wechat_user(session, openid)
    user.subscribed, user.subscribed_at = True, at
    session.commit()
    return BoundTrainee(user.trainee.id, user.trainee.name, user.trainee.company) if user.trainee else None


def record_unsubscribe(session: Session, openid: str, at: datetime) -> None:
    user = _wechat_user(session, openid)
    user.subscribed, user.unsubscribed_at = False, at
    session.commit()


# Built once: this runs on every menu click, so no statement is rebuilt and no entity loaded.
_BOUND = (
    select(Trainee.id, Trainee.name, Trainee.company).join(WechatUser, WechatUser.trainee_id == Trainee.id)
    .where(WechatUser.openid == bindparam("openid"))
)


def bound_trainee(session: Session, openid: str) -> BoundTrainee | None:
    row = session.execute(_BOUND, {"openid": openid}).first()
    return BoundTrainee(row.id, row.name, row.company) if row else None


@dataclass(frozen=True)
class Profile:
    """Who an OpenID is bound as, masked for display."""

    trainee_id: int
    name: str
    company: str
    phone_mask: str
    id_card_mask: str


def profile(session: Session, openid: str) -> Profile | None:
    trainee = session.scalar(
        select(Trainee).join(WechatUser, WechatUser.trainee_id == Trainee.id).where(WechatUser.openid == openid)
    )
    if trainee is None:
        return None
    return Profile(trainee.id, trainee.name, trainee.company, mask_phone(trainee.phone), trainee.id_card_mask)


# Only rows not already known to follow: on a menu click this matches nothing and writes nothing.
_USERS = table_of(WechatUser)
_NOTE_FOLLOWING = (
    update(_USERS)
    .where(_USERS.c.openid == bindparam("who"), or_(_USERS.c.subscribed.is_(None), _USERS.c.subscribed.is_(False)))
    .values(subscribed=True)
)


def note_activity(session: Session, openid: str) -> None:
    """A message or menu event came from `openid`: it follows the account (WeChat delivers
    nothing from a non-follower). Run on the Core connection, outside the ORM, and committed at
    once, whatever the answer then does: one statement, which on a known follower changes nothing."""
    with transaction(session):
        session.connection().execute(_NOTE_FOLLOWING, {"who": openid})


def record_unfollowed(session: Session, openids: list[str], at: datetime) -> None:
    """WeChat answered 43004 (not following) to a send to these OpenIDs; caller commits."""
    if openids:
        session.connection().execute(update(_USERS).where(_USERS.c.openid.in_(openids))
                                     .values(subscribed=False, unsubscribed_at=at))


@dataclass
class SyncReport:
    """What `follower sync` found: followers WeChat listed, known OpenIDs marked each way."""

    listed: int = 0
    pages: int = 0
    checked: int = 0      # known OpenIDs missing from the list, asked about one by one (batchget)
    following: int = 0    # known OpenIDs now recorded as following
    not_following: int = 0


SYNC_CHUNK = 1000


def sync(session: Session, api: WeChatApi, now: datetime) -> SyncReport:
    """Records who of the OpenIDs the account knows follows it, from WeChat's follower list.

    Pages through `user/get`; an OpenID absent from the list is asked about through
    `user/info/batchget` before it is marked as not following (it may have followed meanwhile).
    A follow or unfollow the callback records after `now` wins over this older picture."""
    report, listed, next_openid = SyncReport(), set(), ""
    while True:
        openids, next_openid = follower_page(api, next_openid)
        report.pages += 1
        listed.update(openids)
        if not next_openid:
            break
    report.listed = len(listed)
    known = session.execute(select(WechatUser.openid, WechatUser.subscribed)).all()
    session.commit()
    came = [openid for openid, state in known if openid in listed and state is not True]
    missing = [openid for openid, state in known if openid not in listed and state is not False]
    report.checked = len(missing)
    answers: dict[str, bool] = {}
    for start in range(0, len(missing), BATCHGET_MAX):
        answers.update(follows(api, missing[start:start + BATCHGET_MAX]))
    came += [openid for openid in missing if answers.get(openid) is True]
    gone = [openid for openid in missing if answers.get(openid) is False]
    report.following = _mark(session, came, True, now)
    report.not_following = _mark(session, gone, False, now)
    return report


def _mark(session: Session, openids: list[str], following: bool, since: datetime) -> int:
    """Sets the state of `openids`, except where the callback saw the opposite after `since`."""
    table, changed = _USERS, 0
    newer = table.c.unsubscribed_at if following else table.c.subscribed_at
    for start in range(0, len(openids), SYNC_CHUNK):
        statement = (update(table).where(table.c.openid.in_(openids[start:start + SYNC_CHUNK]),
                                         or_(newer.is_(None), newer < since))
                     .values(subscribed=following))
        changed += session.connection().execute(statement).rowcount
    session.commit()
    return changed
