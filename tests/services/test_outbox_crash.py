"""A dispatcher process killed (kill -9) mid-batch strands nothing and doubles nothing: the rows it
had claimed but not tried go back to `pending`, those whose request had left are resent inside
WeChat's client_msg_id window, and every trainee gets the notice exactly once."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import OutboxMessage, WechatUser, db
from models.notices import CHANNEL_WECHAT
from services.notices import outbox
from services.notices.dispatcher import Starter
from services.timeutil import utcnow
from tests.conftest import base_settings
from tests.fakewechat import Delay
from tests.notify_util import CLASS_CODE, TEMPLATE_PATH, class_with_trainees, notify_settings, outbox_states

ROOT = Path(__file__).resolve().parents[2]
LEASE_S = 120
CHILD = """
import json, os
from wxapp import create_app
app = create_app(json.loads(os.environ["WXAPP_CHILD_SETTINGS"]))
with app.app_context():
    app.extensions["notice_desk"].dispatcher().run(wait=True)
"""


def wait_for(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_dispatcher_killed_mid_batch_strands_nothing_and_each_trainee_gets_one_notice(
        make_app, fake_wechat, database_url, redis_url, tmp_path):
    overrides = notify_settings(fake_wechat, OUTBOX_POOL_SIZE=2, OUTBOX_LEASE_S=LEASE_S)
    app = make_app(**overrides)
    class_with_trainees(app, bound=20, unbound=0)
    with app.app_context():
        notice_id = app.extensions["notice_desk"].class_open(CLASS_CODE, "test").id
    fake_wechat.script(TEMPLATE_PATH, *[Delay(0.3)] * 20)
    settings = {**base_settings(database_url, redis_url, str(tmp_path / "i")),
                **{k: str(v) for k, v in overrides.items()}}

    child = subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT,
                             env={**os.environ, "WXAPP_CHILD_SETTINGS": json.dumps(settings)})
    try:
        wait_for(lambda: len(fake_wechat.calls(TEMPLATE_PATH)) >= 5)
    finally:
        child.kill()
        child.wait()

    with app.app_context():
        left = db.session.execute(select(OutboxMessage.tried_at).where(OutboxMessage.state == "sending")).all()
        # Once their lease is over (the clock driven past it) nothing the dead dispatcher held is stranded.
        later = utcnow() + timedelta(seconds=LEASE_S + 1)
        expired = outbox.expire_leases(db.session, later)
        app.extensions["notice_desk"].dispatcher(lambda: later).run(notice_id=notice_id, wait=True)
        rows = db.session.execute(
            select(WechatUser.openid, OutboxMessage.state)
            .join(WechatUser, WechatUser.trainee_id == OutboxMessage.trainee_id)
            .where(OutboxMessage.channel == CHANNEL_WECHAT)
        ).all()

    assert any(tried is None for (tried,) in left)  # it held rows it had claimed and not yet tried
    assert expired == len(left) >= 1
    assert len(rows) == 20 and {state for _, state in rows} == {"sent"}
    assert Counter(openid for openid, _ in fake_wechat.delivered) == {openid: 1 for openid, _ in rows}


def test_starts_recorded_ahead_are_a_bounded_group_and_a_crash_between_groups_leaves_the_rest_untried(
        make_app, fake_wechat, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the Starter records starts on a connection of its own: PostgreSQL's; SQLite records them inline")
    app = make_app(**notify_settings(fake_wechat, OUTBOX_LEASE_S=LEASE_S))
    class_with_trainees(app, bound=6, unbound=0)
    with app.app_context():
        notice_id = app.extensions["notice_desk"].class_open(CLASS_CODE, "test").id
        claimed = outbox.claim(db.session, "dead-dispatcher", 10, lease_s=LEASE_S, now=utcnow())
        starter = Starter(Session(bind=db.engine), "dead-dispatcher", utcnow, threading.Event(), ahead=2)
        try:
            for row in claimed:
                starter.expect(row.id)
            first = starter.begin(claimed[0].id)  # one send leaves; two more are recorded ahead of theirs
            assert first.answered.wait(10) and first.granted
            wait_for(lambda: len(tried_ids(app)) == 3)
            assert tried_ids(app) == {row.id for row in claimed[:3]}
            # The next send uses its start recorded ahead, and the group moves on by one.
            assert starter.begin(claimed[1].id).granted
            wait_for(lambda: len(tried_ids(app)) == 4)
            assert tried_ids(app) == {row.id for row in claimed[:4]}
        finally:
            starter.close()  # the dispatcher dies here: two sends made, two recorded ahead, two untried

        later = utcnow() + timedelta(seconds=LEASE_S + 1)
        assert outbox.expire_leases(db.session, later) == 6
        rows = {row.id: row for row in db.session.scalars(select(OutboxMessage))}
        # Untried: back to pending as if never claimed. Tried (sent or recorded ahead): resent inside
        # WeChat's window with their client_msg_id, so a message that left is delivered once.
        assert [(rows[r.id].state, rows[r.id].attempts, rows[r.id].first_sent_at is None) for r in claimed[4:]] \
            == [("pending", 0, True)] * 2
        assert [(rows[r.id].state, rows[r.id].first_sent_at is None) for r in claimed[:4]] == [("pending", False)] * 4
        for row in claimed[:2]:  # the two sends that left before the crash
            app.extensions["wechat_api"].send_template(row.openid, "tmpl-class-open", {},
                                                       client_msg_id=outbox.client_msg_id(row.id))
        app.extensions["notice_desk"].dispatcher(lambda: later).run(notice_id=notice_id, wait=True)

    assert outbox_states(app) == {(CHANNEL_WECHAT, "sent"): 6}
    assert Counter(openid for openid, _ in fake_wechat.delivered) == {row.openid: 1 for row in claimed}


def tried_ids(app) -> set[int]:
    with app.app_context():
        ids = set(db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.tried_at.is_not(None))))
        db.session.commit()
        return ids
