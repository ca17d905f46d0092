"""The notice templates file, the SMS and outbox settings, and the shared send-rate limit."""
from __future__ import annotations

import json
import time

import pytest
import redis as redis_lib

from services import keys
from services.notices.notice_templates import TemplateError, load
from services.ratelimit import RateLimiter
from tests.test_config import SAFE_PRODUCTION
from wxapp.config import REPO_ROOT, ConfigError, load_settings

REPO_TEMPLATES = REPO_ROOT / "notice_templates.json"


def test_the_repository_file_loads_and_a_setting_gives_the_template_id():
    templates = load(REPO_TEMPLATES, {"class_open": "tmpl-from-settings"})

    assert templates["class_open"].wechat.template_id == "tmpl-from-settings"
    assert templates["class_reminder"].wechat.template_id is None  # empty in the file: SMS only
    assert templates["registration_expiry"].sms.template_code


def test_wechat_thing_fields_are_cut_to_twenty_characters_and_sms_params_keep_their_order():
    templates = load(REPO_TEMPLATES)["class_open"]
    values = {"class_name": "二" * 30, "starts_at": "2027年3月1日 09:00", "place": "苏州", "trainee_name": "周一"}

    data = templates.wechat.render(values)
    params = templates.sms.render(values)

    assert data["thing1"]["value"] == "二" * 20 and data["time2"]["value"] == "2027年3月1日 09:00"
    assert list(params) == ["name", "class", "time", "place"] and params["class"] == "二" * 30


def test_an_unknown_placeholder_is_refused_when_the_file_is_loaded(tmp_path):
    raw = json.loads(REPO_TEMPLATES.read_text(encoding="utf-8"))
    raw["class_open"]["sms"]["params"]["name"] = "{id_card}"
    path = tmp_path / "templates.json"
    path.write_text(json.dumps(raw), encoding="utf-8")

    with pytest.raises(TemplateError, match="id_card"):
        load(path)


def test_an_sms_wording_names_only_its_own_parameters_and_renders_as_the_phone_shows_it(tmp_path):
    kinds = load(REPO_TEMPLATES)
    code = kinds["move_code"].sms
    assert code.full_text("学校", code.render({"code": "000123"})).startswith("【学校】您正在更换继续教育公众号绑定的微信，验证码000123，")
    raw = json.loads(REPO_TEMPLATES.read_text(encoding="utf-8"))
    raw["move_code"]["sms"]["text"] = "验证码{code}，发给{phone}"
    path = tmp_path / "templates.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(TemplateError, match="move_code.sms.text"):
        load(path)


def test_a_missing_file_is_refused_with_its_path(tmp_path):
    with pytest.raises(TemplateError, match="missing.json"):
        load(tmp_path / "missing.json")


def test_development_defaults_send_no_sms_and_limit_the_rate(tmp_path):
    settings = load_settings(tmp_path, {})
    assert settings.sms_backend == "console" and settings.outbox_rate_per_s > 0
    assert settings.notice_templates_file == str(REPO_TEMPLATES)


@pytest.mark.parametrize("change,named", [
    ({"SMS_BACKEND": "aliyun"}, "SMS_ACCESS_KEY_ID"),
    ({"SMS_BACKEND": "tencent", "SMS_ACCESS_KEY_ID": "id", "SMS_ACCESS_KEY_SECRET": "s"}, "SMS_SDK_APP_ID"),
    ({"SMS_BACKEND": "yunpian"}, "SMS_BACKEND"),
    ({"OUTBOX_RATE_PER_S": "fast"}, "OUTBOX_RATE_PER_S"),
])
def test_production_refuses_an_sms_provider_without_credentials(tmp_path, change, named):
    with pytest.raises(ConfigError, match=named):
        load_settings(tmp_path, {**SAFE_PRODUCTION, **change})


def test_production_takes_a_provider_with_its_credentials(tmp_path):
    settings = load_settings(tmp_path, {**SAFE_PRODUCTION, "SMS_BACKEND": "aliyun", "SMS_ACCESS_KEY_ID": "id",
                                        "SMS_ACCESS_KEY_SECRET": "secret"})
    assert settings.sms_backend == "aliyun"


@pytest.fixture
def store(redis_url):
    client = redis_lib.Redis.from_url(redis_url)
    client.delete(keys.outbox_rate("wechat"), keys.outbox_rate("sms"))
    yield client
    client.close()


def test_the_rate_limit_spaces_sends_and_keeps_channels_apart(store):
    limiter = RateLimiter(store, keys.outbox_rate, per_second=10)

    assert limiter.acquire("wechat") == 0
    assert 0.05 < limiter.acquire("wechat") <= 0.1  # the next slot is 100 ms later
    assert limiter.acquire("sms") == 0


def test_the_rate_limit_holds_across_clients(store, redis_url):
    limiters = [RateLimiter(redis_lib.Redis.from_url(redis_url), keys.outbox_rate, per_second=50) for _ in range(2)]
    started = time.monotonic()

    for n in range(20):
        assert limiters[n % 2].wait("wechat", deadline=time.monotonic() + 5)

    assert time.monotonic() - started >= 19 / 50 * 0.9


def test_the_dispatchers_rate_limit_lets_a_tenth_of_a_second_go_at_once_never_more_than_its_threads(store):
    from types import SimpleNamespace

    from services.notices.desk import rate_burst

    def burst(rate: float, pool: int) -> int:
        return rate_burst(SimpleNamespace(rate_per_s=rate, pool_size=pool))  # the two fields it reads

    assert [burst(500, 32), burst(500, 16), burst(20, 16), burst(5, 16), burst(1, 16)] == [32, 16, 2, 1, 1]

    limiter = RateLimiter(store, keys.outbox_rate, per_second=20, burst=2)
    assert [limiter.acquire("wechat") for _ in range(2)] == [0, 0]  # two at once
    assert 0 < limiter.acquire("wechat") <= 0.05                    # then at the rate
