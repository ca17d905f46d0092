"""What each menu key, keyword and subscription answers, bound or not (CONTRACT §3)."""
from __future__ import annotations

import pytest

from tests import factories
from tests.conftest import TEST_TOKEN
from tests.wechat_util import WeChatServer, event_xml, reply_content, text_xml

OPENID = "oBoundTrainee000000000000001"
STRANGER = "oNotBound00000000000000000001"
BIND_URL = "https://wx.example.test/h5/bind"
LEARN_URL = "https://wx.example.test/h5/learn"


@pytest.fixture
def wechat(client):
    return WeChatServer(client, TEST_TOKEN)


@pytest.fixture
def bound(app):
    factories.training_class(app)
    return factories.trainee(app, majors=(("建筑工程", "main"), ("市政公用工程", "added")),
                             openid=OPENID, class_code="SZ2701-JZ")


def click(wechat, openid, key):
    r = wechat.post(event_xml(openid, "CLICK", key))
    assert r.status_code == 200
    return reply_content(r.data)


@pytest.mark.parametrize("key", ["ONLINE_LEARNING", "MY_COURSES", "MY_CLASS", "MY_EXAM"])
def test_unbound_user_gets_binding_link_for_every_personal_key(wechat, key):
    content = click(wechat, STRANGER, key)
    assert f'href="{BIND_URL}"' in content and "认证登录" in content


def test_help_answers_contact_and_how_to_for_anyone(wechat):
    content = click(wechat, STRANGER, "HELP")
    assert "使用帮助" in content and "联系方式" in content and "16学时" in content


def test_online_learning_links_the_portal_for_a_bound_trainee(wechat, bound):
    content = click(wechat, OPENID, "ONLINE_LEARNING")
    assert f'href="{LEARN_URL}"' in content and BIND_URL not in content and "周一" in content


def test_my_courses_lists_public_course_once_and_each_major(wechat, bound):
    content = click(wechat, OPENID, "MY_COURSES")
    assert content.count("· 公共课") == 1
    assert "专业课·建筑工程" in content and "专业课·市政公用工程" in content
    assert "0 / 16 学时" in content and content.count("0 / 40 学时") == 2
    assert "· 建筑工程：未开放，还差 公共课 16 学时，还差 建筑工程专业课 40 学时" in content


def test_my_courses_uses_catalog_course_names_and_hours(wechat, bound, app):
    from models import Course, db
    from services.school.majors import ensure_majors

    with app.app_context():
        majors = ensure_majors(db.session)
        db.session.add(Course(kind="professional", major=majors["建筑工程"], name="装配式建筑专题", hours_required=40))
        db.session.commit()
    assert "（装配式建筑专题）" in click(wechat, OPENID, "MY_COURSES")


def test_my_class_shows_name_shanghai_time_and_place(wechat, bound):
    content = click(wechat, OPENID, "MY_CLASS")
    # 01:00 UTC is 09:00 in Shanghai.
    assert "2027年第1期建筑工程班" in content and "2027年3月1日 09:00" in content
    assert "苏州市姑苏区人民路100号培训楼" in content


def test_my_class_says_not_assigned_yet(wechat, app):
    factories.trainee(app, openid=OPENID)
    assert "暂未分配班级" in click(wechat, OPENID, "MY_CLASS")


def test_my_exam_shows_locked_state(wechat, bound):
    content = click(wechat, OPENID, "MY_EXAM")
    assert "未开放" in content and "60分合格" in content


def test_subscribe_of_bound_trainee_welcomes_back_by_name(wechat, bound):
    content = reply_content(wechat.post(event_xml(OPENID, "subscribe")).data)
    assert "周一，欢迎回来" in content and BIND_URL not in content


@pytest.mark.parametrize("word,expected", [("帮助", "使用帮助"), ("绑定", BIND_URL), (" 课程 ", BIND_URL)])
def test_keywords_for_unbound_user(wechat, word, expected):
    assert expected in reply_content(wechat.post(text_xml(STRANGER, word, msg_id=1)).data)


def test_keywords_for_bound_trainee(wechat, bound):
    assert "您已认证为：周一" in reply_content(wechat.post(text_xml(OPENID, "绑定", msg_id=1)).data)
    assert "专业课·建筑工程" in reply_content(wechat.post(text_xml(OPENID, "课程", msg_id=2)).data)


def test_unknown_click_key_needs_no_reply(wechat):
    assert wechat.post(event_xml(STRANGER, "CLICK", "NO_SUCH_KEY")).data == b"success"


@pytest.fixture
def redis_commands(app, monkeypatch):
    """The Redis commands the callback sends, in order (the real Redis still answers them)."""
    from wxapp.wechat.endpoint import CallbackEndpoint

    endpoint = app.extensions["wechat_callback"]
    assert isinstance(endpoint, CallbackEndpoint)
    sent: list[str] = []
    # This thread's connection (the test client calls the app in it): every command passes here.
    connection = endpoint.redis_clients.get().connection
    real = connection.send_command

    def counting(*args, **options):
        sent.append(str(args[0]))
        return real(*args, **options)

    monkeypatch.setattr(connection, "send_command", counting)
    return sent


def test_a_click_with_the_overview_cached_costs_redis_one_round_trip(wechat, bound, redis_commands):
    first = click(wechat, OPENID, "MY_COURSES")  # records the follow, builds and caches the overview
    redis_commands.clear()
    again = click(wechat, OPENID, "MY_COURSES")
    assert again == first and "0 / 16 学时" in again
    assert redis_commands == ["EVAL"]  # replay check, follow marker and the cached overview together


def test_a_prefetched_overview_is_still_refreshed_by_a_change(wechat, bound, app, redis_commands):
    from models import Trainee, db

    assert "周一" in click(wechat, OPENID, "ONLINE_LEARNING")
    click(wechat, OPENID, "ONLINE_LEARNING")  # now served from the cache
    with app.app_context():
        trainee = db.session.scalars(db.select(Trainee)).one()
        trainee.name = "周一改"
        db.session.commit()  # bumps the overviews' generation
    redis_commands.clear()
    assert "周一改" in click(wechat, OPENID, "ONLINE_LEARNING")
    assert redis_commands[0] == "EVAL" and "SET" in redis_commands  # rebuilt and cached anew
    redis_commands.clear()
    assert "周一改" in click(wechat, OPENID, "ONLINE_LEARNING")
    assert redis_commands == ["EVAL"]
