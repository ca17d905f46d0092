"""`follower sync`: WeChat's follower list (user/get pages, user/info/batchget) through the fake API."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select

from models import WechatUser, db
from scheduler import job_specs, jobs

USER_GET, BATCHGET = "cgi-bin/user/get", "cgi-bin/user/info/batchget"


def known(app, states: dict[str, bool | None]) -> None:
    with app.app_context():
        db.session.execute(insert(WechatUser), [{"openid": o, "subscribed": s, "created_at": datetime.now(UTC)}
                                                for o, s in states.items()])
        db.session.commit()


def states(app) -> dict[str, bool | None]:
    with app.app_context():
        return dict(db.session.execute(select(WechatUser.openid, WechatUser.subscribed)).all())


def test_follower_sync_pages_the_list_and_asks_about_the_rest(make_app, fake_wechat):
    app = make_app(WECHAT_API_BASE=fake_wechat.base_url)
    fake_wechat.followers = [f"oF{n}" for n in range(5)]
    fake_wechat.follower_page_size = 2
    known(app, {"oF0": None, "oF1": False, "oF4": True, "oGone": None, "oLeft": True, "oAlready": False})

    result = app.test_cli_runner().invoke(args=["follower", "sync"])

    assert result.exit_code == 0, result.output
    assert "关注者 5 人" in result.output and "记为关注 2 人" in result.output and "记为未关注 2 人" in result.output
    assert states(app) == {"oF0": True, "oF1": True, "oF4": True, "oGone": False, "oLeft": False, "oAlready": False}
    pages = [call.query.get("next_openid", "") for call in fake_wechat.calls(USER_GET)]
    assert pages[:3] == ["", "oF1", "oF3"]
    [ask] = fake_wechat.calls(BATCHGET)
    assert sorted(u["openid"] for u in ask.json["user_list"]) == ["oGone", "oLeft"]


def test_batchget_is_asked_100_openids_at_a_time(make_app, fake_wechat):
    app = make_app(WECHAT_API_BASE=fake_wechat.base_url)
    known(app, {f"oUnknown{n:03d}": None for n in range(250)})

    with app.app_context():
        jobs.sync_followers()  # the nightly job

    sizes = [len(call.json["user_list"]) for call in fake_wechat.calls(BATCHGET)]
    assert sizes == [100, 100, 50]
    assert set(states(app).values()) == {False}


def test_follower_sync_runs_nightly_under_a_fixed_job_id():
    [spec] = [s for s in job_specs() if s.id == "sync_followers"]
    assert spec.func == "scheduler.jobs:sync_followers" and "hour='3'" in str(spec.trigger)
