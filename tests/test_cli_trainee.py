"""`trainee unbind`: staff release a binding, recorded with who and why; output masked."""
from __future__ import annotations

from models import BindingLog, WechatUser, db
from tests import factories

OPENID = "oUnbindUser0000000000000001"


def test_unbind_by_phone_releases_and_records(app, runner):
    tid = factories.trainee(app, openid=OPENID)
    result = runner.invoke(args=["trainee", "unbind", "13912340001", "--by", "王老师", "--reason", "学员换了手机"])
    assert result.exit_code == 0, result.output
    assert "已解绑：周一" in result.output and "139****0001" in result.output
    assert "13912340001" not in result.output and "320505198001010017" not in result.output
    with app.app_context():
        assert db.session.query(WechatUser).filter_by(openid=OPENID).one().trainee_id is None
        entry = db.session.query(BindingLog).filter_by(action="unbound").one()
        assert (entry.trainee_id, entry.actor, entry.note) == (tid, "王老师", "学员换了手机")


def test_unbind_by_id_card(app, runner):
    factories.trainee(app, openid=OPENID)
    result = runner.invoke(args=["trainee", "unbind", "320505198001010017", "--by", "王老师", "--reason", "换微信"])
    assert result.exit_code == 0, result.output


def test_shared_phone_asks_for_the_id_card(app, runner):
    factories.trainee(app, openid=OPENID)
    factories.trainee(app, name="吴二", id_card="32058319751212108X")  # same phone as 周一
    result = runner.invoke(args=["trainee", "unbind", "13912340001", "--by", "王老师", "--reason", "换微信"])
    assert result.exit_code == 1 and "对应多名学员" in result.output and "请改用身份证号" in result.output
    with app.app_context():
        assert db.session.query(WechatUser).filter_by(openid=OPENID).one().trainee_id is not None


def test_unbinding_a_trainee_not_bound_says_so(app, runner):
    factories.trainee(app)
    result = runner.invoke(args=["trainee", "unbind", "13912340001", "--by", "王老师", "--reason", "x"])
    assert result.exit_code == 1 and "尚未绑定微信" in result.output
