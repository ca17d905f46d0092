"""The development sandbox: WeChat's API answered and recorded, `/dev/` lists it, never in production."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from services.wechat_api import WeChatApi, WeChatApiError
from wxapp.sandbox import log as sandbox_log

API = "/dev/api/"


def _token(client) -> str:
    answer = client.post(API + "cgi-bin/stable_token", json={
        "grant_type": "client_credential", "appid": "wxsandbox", "secret": "s", "force_refresh": False,
    }).get_json()
    assert answer["expires_in"] > 0
    return answer["access_token"]


def test_stable_token_is_stable_until_forced(client):
    first = _token(client)

    assert _token(client) == first
    forced = client.post(API + "cgi-bin/stable_token", json={
        "grant_type": "client_credential", "appid": "wxsandbox", "secret": "s", "force_refresh": True,
    }).get_json()["access_token"]
    assert forced != first


def test_calls_with_a_token_answer_like_wechat(client):
    token = _token(client)
    with_token = {"query_string": {"access_token": token}}

    menu = client.post(API + "cgi-bin/menu/create", json={"button": []}, **with_token).get_json()
    template = client.post(API + "cgi-bin/message/template/send",
                           json={"touser": "o1", "template_id": "t", "data": {}}, **with_token).get_json()
    custom = client.post(API + "cgi-bin/message/custom/send",
                         json={"touser": "o1", "msgtype": "text", "text": {"content": "hi"}}, **with_token).get_json()
    qr = client.post(API + "cgi-bin/qrcode/create", json={
        "expire_seconds": 600, "action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "s1"}},
    }, **with_token).get_json()

    assert menu == {"errcode": 0, "errmsg": "ok"} and custom == {"errcode": 0, "errmsg": "ok"}
    assert template["errcode"] == 0 and template["msgid"] > 0
    assert qr["ticket"] and qr["url"].startswith("http://weixin.qq.com/q/") and qr["expire_seconds"] == 600


def test_call_with_an_unknown_token_gets_40001(client):
    answer = client.post(API + "cgi-bin/menu/create", json={"button": []},
                         query_string={"access_token": "forged"}).get_json()

    assert answer["errcode"] == 40001


@pytest.mark.parametrize("code,expected", [("sandbox-oTrainee1", {"openid": "oTrainee1"}),
                                           ("abc", {"errcode": 40029}), ("sandbox-", {"errcode": 40029})])
def test_oauth_code_names_the_openid(client, code, expected):
    answer = client.get(API + "sns/oauth2/access_token", query_string={
        "appid": "wx", "secret": "s", "code": code, "grant_type": "authorization_code",
    }).get_json()

    assert expected.items() <= answer.items()


def test_dev_page_lists_recorded_calls_newest_first_without_secrets(client, redis):
    _token(client)
    client.post(API + "cgi-bin/message/custom/send",
                json={"touser": "o1", "msgtype": "text", "text": {"content": "开班啦"}},
                query_string={"access_token": "whatever"})

    entries = sandbox_log.entries(redis)
    page = client.get("/dev/").get_data(as_text=True)

    assert [e.path for e in entries] == ["cgi-bin/message/custom/send", "cgi-bin/stable_token"]
    assert "access_token" not in entries[0].query and "secret" not in entries[1].body
    assert "外发记录" in page and "开班啦" in page
    assert page.index("cgi-bin/message/custom/send") < page.index("cgi-bin/stable_token")


def test_clear_empties_the_record_without_a_csrf_token(client, redis):
    _token(client)

    response = client.post("/dev/clear")

    assert response.status_code == 303
    assert sandbox_log.entries(redis) == []
    assert "暂无记录" in client.get("/dev/").get_data(as_text=True)


def test_sms_can_be_recorded_next_to_wechat_calls(client, redis):
    sandbox_log.record(redis, "sms", "SEND", "139****0001", body={"text": "您的班级将于3月1日开班"})

    page = client.get("/dev/").get_data(as_text=True)

    assert "短信" in page and "139****0001" in page and "您的班级将于3月1日开班" in page


def test_log_keeps_only_the_newest_entries(redis):
    redis.flushdb()
    for n in range(sandbox_log.MAX_ENTRIES + 5):
        sandbox_log.record(redis, "wechat", "POST", f"call-{n}")

    entries = sandbox_log.entries(redis)

    assert len(entries) == sandbox_log.MAX_ENTRIES
    assert entries[0].path == f"call-{sandbox_log.MAX_ENTRIES + 4}"


def test_api_client_works_against_the_sandbox_over_http(app, redis):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = WeChatApi("wxsandbox", "s", f"http://127.0.0.1:{server.server_port}/dev/api/", redis, 5)
        api.create_menu({"button": [{"type": "click", "name": "帮助", "key": "HELP"}]})
        assert api.send_template("o1", "t", {"k": {"value": "v"}}) > 0
        assert api.oauth_openid("sandbox-oX").openid == "oX"
        with pytest.raises(WeChatApiError) as caught:
            api.oauth_openid("wrong")
    finally:
        server.shutdown()

    assert caught.value.errcode == 40029
    assert [e.path for e in sandbox_log.entries(redis)][::-1] == [
        "cgi-bin/stable_token", "cgi-bin/menu/create", "cgi-bin/message/template/send",
        "sns/oauth2/access_token", "sns/oauth2/access_token",
    ]


def test_production_app_has_no_sandbox_routes(make_app, request):
    app = make_app(
        WXAPP_ENV="production", DATABASE_URL=request.getfixturevalue("postgres_url"),
        WECHAT_TOKEN="prod-callback-token", WECHAT_API_BASE="https://api.weixin.qq.com/",
        PUBLIC_BASE_URL="https://wx.example.test",
    )

    assert not [r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/dev")]
    assert app.test_client().get("/dev/").status_code == 404
    assert app.test_client().post(API + "cgi-bin/stable_token", json={}).status_code == 404


def test_development_app_has_the_sandbox(make_app):
    app = make_app(WXAPP_ENV="development")

    assert app.test_client().get("/dev/").status_code == 200


# -- /dev/chat: the chat side of WeChat, through the real callback --------------------------

CHAT_OPENID = "oDevChat00000000000000000001"


def test_chat_page_offers_every_menu_click(client):
    page = client.get("/dev/chat").get_data(as_text=True)
    for name, key in (("在线学习", "ONLINE_LEARNING"), ("我的课程", "MY_COURSES"), ("我的班级", "MY_CLASS"),
                      ("考试成绩", "MY_EXAM"), ("帮助", "HELP")):
        assert f'value="{key}">{name}</button>' in page


def test_chat_click_of_an_unbound_openid_answers_the_binding_link(client):
    page = client.post("/dev/chat", data={"openid": CHAT_OPENID, "key": "MY_COURSES"}).get_data(as_text=True)
    assert "点击菜单「我的课程」" in page
    # a link, as WeChat shows it, opening through the sandbox's OAuth page (not open.weixin.qq.com)
    assert f'<a href="/dev/oauth?openid={CHAT_OPENID}&amp;next=/h5/bind">认证登录</a>' in page


def test_chat_click_of_a_bound_trainee_lists_the_courses(app, client):
    from tests import factories

    factories.trainee(app, openid=CHAT_OPENID)
    page = client.post("/dev/chat", data={"openid": CHAT_OPENID, "key": "MY_COURSES"}).get_data(as_text=True)
    assert "周一" in page and "公共课" in page and "专业课·建筑工程" in page


def test_chat_text_and_follow_go_through_the_callback(app, client):
    from models import WechatUser, db

    assert "使用帮助" in client.post("/dev/chat", data={"openid": CHAT_OPENID, "text": "帮助"}).get_data(as_text=True)
    page = client.post("/dev/chat", data={"openid": CHAT_OPENID, "event": "subscribe"}).get_data(as_text=True)
    assert "关注公众号" in page and "认证登录" in page
    with app.app_context():
        assert db.session.query(WechatUser).filter_by(openid=CHAT_OPENID).one().subscribed
    quiet = client.post("/dev/chat", data={"openid": CHAT_OPENID, "text": "<随便>&"}).get_data(as_text=True)
    assert "没有看懂" in quiet and "&lt;随便&gt;&amp;" in quiet  # sent as text, escaped, answered with the help
