"""`flask notify class-open CODE`: waits for the sends and prints counts per channel and state."""
from __future__ import annotations

from tests.notify_util import CLASS_CODE, TEMPLATE_PATH, class_with_trainees, notify_settings, phone, sms_sent


def test_notify_prints_counts_per_channel_and_a_second_run_sends_nothing(make_app, fake_wechat, redis):
    app = make_app(**notify_settings(fake_wechat))
    class_with_trainees(app, bound=2, unbound=1)
    runner = app.test_cli_runner()

    first = runner.invoke(args=["notify", "class-open", CLASS_CODE])
    second = runner.invoke(args=["notify", "class-open", CLASS_CODE.lower()])

    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == [
        f"班级 {CLASS_CODE} 开班通知：学员 3 人，发送中…", "微信模板消息：已发送 2", "短信：已发送 1",
        "注：SMS_BACKEND=console，短信只记录（开发沙箱 /dev/ 可见），未真正发出。",
    ]
    assert second.exit_code == 0
    again = second.output.splitlines()
    assert again[0].startswith(f"班级 {CLASS_CODE.lower()} 开班通知已于 ")
    assert again[0].endswith("发送过（学员 3 人）：没有新的学员需要通知，本次不再发送。")
    assert again[1:] == ["全部学员的发送情况："] + first.output.splitlines()[1:]
    assert len(fake_wechat.calls(TEMPLATE_PATH)) == 2
    assert all(phone(n) not in first.output + second.output for n in (1, 2, 3))


def test_a_rerun_after_trainees_joined_says_how_many_are_new_and_reaches_only_them(make_app, fake_wechat):
    app = make_app(**notify_settings(fake_wechat))
    class_with_trainees(app, bound=1, unbound=1)
    runner = app.test_cli_runner()
    runner.invoke(args=["notify", "class-open", CLASS_CODE])
    class_with_trainees(app, bound=2, unbound=0, first=3)  # two more join the class

    result = runner.invoke(args=["notify", "class-open", CLASS_CODE])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("发送过（学员 2 人）；新加入班级的学员 2 人，发送中…")
    assert lines[1:3] == ["全部学员的发送情况：", "微信模板消息：已发送 3"]
    assert len(fake_wechat.calls(TEMPLATE_PATH)) == 3


def test_notify_shows_wechat_failures_next_to_their_sms_fallback(make_app, fake_wechat):
    app = make_app(**notify_settings(fake_wechat))
    class_with_trainees(app, bound=2, unbound=0)
    fake_wechat.script(TEMPLATE_PATH, {"errcode": 43004, "errmsg": "require subscribe"})

    result = app.test_cli_runner().invoke(args=["notify", "class-open", CLASS_CODE])

    assert result.output.splitlines()[1:3] == ["微信模板消息：已发送 1，失败 1", "短信：已发送 1"]


def test_without_a_wechat_template_everyone_gets_an_sms(make_app, fake_wechat):
    app = make_app(**notify_settings(fake_wechat, WECHAT_TEMPLATE_CLASS_OPEN=""))
    class_with_trainees(app, bound=1, unbound=1)

    result = app.test_cli_runner().invoke(args=["notify", "class-open", CLASS_CODE])

    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith("未配置微信模板 WECHAT_TEMPLATE_CLASS_OPEN")
    assert result.output.splitlines()[2] == "短信：已发送 2"
    assert fake_wechat.calls(TEMPLATE_PATH) == []


def test_notify_an_unknown_class_exits_1_with_one_line(runner):
    result = runner.invoke(args=["notify", "class-open", "NOPE-1"])

    assert result.exit_code == 1
    assert result.output.strip() == "班级 NOPE-1 不存在"


def test_status_lists_counts_and_every_message_needing_a_person(make_app, fake_wechat):
    from sqlalchemy import update

    from models import OutboxMessage, db

    app = make_app(**notify_settings(fake_wechat))
    class_with_trainees(app, bound=2, unbound=1)
    runner = app.test_cli_runner()
    before = runner.invoke(args=["notify", "status", CLASS_CODE])
    assert before.exit_code == 0 and before.output.splitlines() == [f"班级 {CLASS_CODE}（2027年第1期建筑工程班）：尚未发送通知"]

    fake_wechat.script(TEMPLATE_PATH, {"errcode": 43004, "errmsg": "require subscribe"})
    runner.invoke(args=["notify", "class-open", CLASS_CODE])
    with app.app_context():  # a send whose answer never came back
        db.session.execute(update(OutboxMessage).where(OutboxMessage.channel == "sms", OutboxMessage.state == "sent")
                           .values(state="unknown", last_error="ReadTimeout"))
        db.session.commit()

    result = runner.invoke(args=["notify", "status", CLASS_CODE.lower()])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"班级 {CLASS_CODE}（2027年第1期建筑工程班）：通知 1 条"
    assert lines[1].startswith("开班通知（") and lines[1].endswith("）：学员 3 人")
    assert lines[2:4] == ["  微信模板消息：已发送 1，失败 1", "  短信：状态未知（请人工核实） 2"]
    attention = lines[4:]
    assert len(attention) == 3 and all("已尝试 1 次" in line for line in attention)
    assert "状态未知" in attention[0] and "ReadTimeout" in attention[0] and "失败" in attention[2]
    assert "43004" in attention[2] and "（139****000" in attention[2]  # whichever WeChat refused
    assert all(phone(n) not in result.output for n in (1, 2, 3))


def test_status_of_an_unknown_class_exits_1(runner):
    result = runner.invoke(args=["notify", "status", "NO-SUCH"])
    assert result.exit_code == 1 and "班级 NO-SUCH 不存在" in result.output


def production_without_sms(make_app, fake_wechat, request):
    """A production app whose SMS_BACKEND is still `console`: no provider configured."""
    return make_app(**notify_settings(fake_wechat), WXAPP_ENV="production",
                    DATABASE_URL=request.getfixturevalue("postgres_url"), WECHAT_TOKEN="prod-callback-token",
                    PUBLIC_BASE_URL="https://wx.example.test", SMS_BACKEND="console")


def test_in_production_without_an_sms_provider_texts_count_as_failed(make_app, fake_wechat, request):
    app = production_without_sms(make_app, fake_wechat, request)
    class_with_trainees(app, bound=1, unbound=1)
    result = app.test_cli_runner().invoke(args=["notify", "class-open", CLASS_CODE])
    assert result.exit_code == 0, result.output
    assert "短信：失败 1" in result.output and "未配置短信服务" in result.output
    status = app.test_cli_runner().invoke(args=["notify", "status", CLASS_CODE]).output
    assert "短信 失败，已尝试 1 次：" in status and "未配置短信服务" in status


def test_retry_resends_failed_texts_only_to_trainees_not_reached(make_app, fake_wechat, redis):
    from sqlalchemy import select, update

    from models import OutboxMessage, Trainee, db

    app = make_app(**notify_settings(fake_wechat))
    class_with_trainees(app, bound=1, unbound=3)
    runner = app.test_cli_runner()
    runner.invoke(args=["notify", "class-open", CLASS_CODE])
    with app.app_context():  # as if the provider had refused two texts and lost track of one
        ids = dict(db.session.execute(select(Trainee.phone, Trainee.id)).all())
        for n, state in ((2, "failed"), (3, "failed"), (4, "unknown")):
            db.session.execute(update(OutboxMessage).where(OutboxMessage.trainee_id == ids[phone(n)])
                               .values(state=state, last_error="isv.BUSINESS_LIMIT_CONTROL"))
        # and a text to the WeChat-reached trainee that failed: they were reached, it stays as is
        notice_id = db.session.scalar(select(OutboxMessage.notice_id).limit(1))
        db.session.add(OutboxMessage(notice_id=notice_id, trainee_id=ids[phone(1)], channel="sms", state="failed"))
        db.session.commit()
    texts_before = len(sms_sent(redis))

    result = runner.invoke(args=["notify", "retry", CLASS_CODE])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "开班通知：重发短信 2 条，发送中…", "  微信模板消息：已发送 1", "  短信：已发送 2，失败 1，状态未知（请人工核实） 1",
        "  状态未知的短信 1 条未重发：可能已送达，请用 notify status 查看并人工核实。",
    ]
    assert len(sms_sent(redis)) == texts_before + 2
    again = runner.invoke(args=["notify", "retry", CLASS_CODE]).output
    assert "开班通知：没有需要重发的短信" in again


def test_retry_without_an_sms_provider_in_production_says_what_to_do(make_app, fake_wechat, request):
    app = production_without_sms(make_app, fake_wechat, request)
    class_with_trainees(app, bound=0, unbound=1)
    result = app.test_cli_runner().invoke(args=["notify", "retry", CLASS_CODE])
    assert result.exit_code == 1 and "请先配置 SMS_BACKEND" in result.output
