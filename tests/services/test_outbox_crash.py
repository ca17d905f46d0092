"""A dispatcher process killed (kill -9) mid-batch strands nothing and doubles nothing: the rows it
had claimed but not tried go back to `pending`, those whose request had left are resent inside
WeChat's client_msg_id window, and every trainee gets the notice exactly once."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from models import OutboxMessage, WechatUser, db
from models.notices import CHANNEL_WECHAT
from services.notices import outbox
from services.timeutil import utcnow
from tests.conftest import base_settings
from tests.fakewechat import Delay
from tests.notify_util import CLASS_CODE, TEMPLATE_PATH, class_with_trainees, notify_settings

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
