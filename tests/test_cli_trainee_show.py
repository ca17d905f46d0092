"""`trainee show`: a trainee's study records for staff, personal data masked."""
from __future__ import annotations

from models import AttendanceRefusal, ExerciseAttempt, db
from services.study import attendance
from tests import factories
from tests.study_util import T0, beat, lesson, player

OPENID = "oShowUser000000000000000001"


def test_show_prints_watching_checks_and_exercises(app, runner):
    lesson_id = lesson(app, duration_s=300, hours=2, title="第1讲 法规新规")
    trainee_id = factories.trainee(app, openid=OPENID)
    redis = app.extensions["redis"]
    with app.app_context():
        p = player(app, interval_min_s=30, interval_max_s=30, check_ttl_s=60)
        tab = p.open_page(trainee_id, OPENID, lesson_id, T0).tab
        answers = [p.heartbeat(OPENID, beat(lesson_id, t, tab), T0 + t) for t in (0, 15, 30)]
        first = attendance.by_id(redis, db.session, answers[-1].check.id, T0)
        db.session.add(AttendanceRefusal(check_id=1, openid="oSomeoneElse"))
        db.session.commit()
        token = redis.hget(f"wxapp:attend:check:{first.id}", "token").decode()
        assert p.confirm_check(token, first, OPENID, T0 + 40) == "verified"
        for t in (41, 56, 71):  # the next check comes and is left to expire
            p.heartbeat(OPENID, beat(lesson_id, t - 11, tab), T0 + t)
        p.heartbeat(OPENID, beat(lesson_id, 60, tab, "paused"), T0 + 140)
        db.session.add(ExerciseAttempt(trainee_id=trainee_id, lesson_id=lesson_id, correct=1, total=2, passed=False,
                                       answers="{}"))
        db.session.commit()
    result = runner.invoke(args=["trainee", "show", "13912340001"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "学员：周一（手机 139****0001" in out and "13912340001" not in out and "320505198001010017" not in out
    assert "公共课：已修 0 / 16 学时" in out and "专业课·建筑工程：已修 0 / 40 学时" in out
    assert "[公共课程] 第1讲 法规新规（5分0秒，2学时）：未获得学时" in out
    assert "已看部分：00:00–00:30；计入时长 30 秒" in out
    assert "考勤验证：发起 2，通过 1，超时 1，待验证 0，他人扫码被拒 1" in out
    assert "课后练习：交卷 1 次，全部答对 0 次" in out


def test_show_of_a_trainee_without_records(app, runner):
    factories.trainee(app)
    result = runner.invoke(args=["trainee", "show", "320505198001010017"])
    assert result.exit_code == 0 and "微信：未绑定" in result.output and "视频课时记录：无" in result.output


def test_show_of_an_unknown_trainee_fails(app, runner):
    result = runner.invoke(args=["trainee", "show", "13900000000"])
    assert result.exit_code == 1 and "没有手机号为 139****0000 的学员" in result.output


def test_show_lists_binds_refusals_and_unbinds_newest_first(app, runner):
    import pytest

    from services.identity import binding
    from services.identity.pii import short_openid

    factories.trainee(app)
    factories.trainee(app, name="吴二", phone="13912340002", id_card="32058319751212108X")
    old, new = "oOldPhone000000000000000001", "oNewPhone000000000000000001"

    def bind(openid, phone="13912340001", id_card="320505198001010017"):
        with app.app_context():
            binding.bind(db.session, app.extensions["redis"], app.extensions["pii"], binding.Attempt(
                openid=openid, ip="127.0.0.1", phone=phone, id_card=id_card))

    bind(old)
    with pytest.raises(binding.BindRefused):
        bind(new)  # the trainee's new phone, before staff released the old one
    with pytest.raises(binding.BindRefused):
        bind("oSomeoneElse000000000000001", phone="13912340002")  # 周一's ID card with 吴二's phone
    assert runner.invoke(args=["trainee", "unbind", "13912340001", "--by", "王老师",
                               "--reason", "学员换了手机"]).exit_code == 0
    bind(new)
    lines = runner.invoke(args=["trainee", "show", "13912340001"]).output.splitlines()
    history = [line.split(" ", 4)[-1] for line in lines if line.startswith("  ") and "微信 " in line]
    assert history == [
        f"认证绑定（微信 {short_openid(new)}）",
        f"解绑（微信 {short_openid(old)}，王老师：学员换了手机）",
        f"认证被拒（微信 {short_openid('oSomeoneElse000000000000001')}，手机号不匹配）",
        f"认证被拒（微信 {short_openid(new)}，该学员已绑定其他微信）",
        f"认证绑定（微信 {short_openid(old)}）",
    ]
    shown = runner.invoke(args=["trainee", "show", "13912340002"]).output
    # The try named 吴二's phone and 周一's ID card: it is a try for both (issue 20), so 吴二's record
    # shows it too, from 吴二's side (the ID card was not 吴二's), and unlocking by 吴二's phone lifts it.
    assert f"认证被拒（微信 {short_openid('oSomeoneElse000000000000001')}，身份证号不匹配）" in shown
