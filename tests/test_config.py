"""Settings (CONTRACT §2): development defaults, and production refusing unsafe settings."""
from __future__ import annotations

import subprocess
import sys

import pytest

from wxapp.config import ConfigError, flask_config, load_settings

SAFE_PRODUCTION = {
    "WXAPP_ENV": "production",
    "SECRET_KEY": "s" * 40,
    "PII_KEY": "p" * 40,
    "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/test",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "PUBLIC_BASE_URL": "https://wx.school.example",
    "WECHAT_APPID": "wx1234567890abcdef",
    "WECHAT_SECRET": "a-real-secret",
    "WECHAT_TOKEN": "a-real-token",
    "WECHAT_API_BASE": "https://api.weixin.qq.com/",
}


def test_safe_production_settings_load(tmp_path):
    settings = load_settings(tmp_path, SAFE_PRODUCTION)
    assert flask_config(settings)["SESSION_COOKIE_SECURE"] is True and settings.wechat_sandbox is False
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize("change,named", [
    ({"SECRET_KEY": None}, "SECRET_KEY"),
    ({"SECRET_KEY": "short"}, "SECRET_KEY"),
    ({"PII_KEY": None}, "PII_KEY"),
    ({"PII_KEY": "too-short"}, "PII_KEY"),
    ({"WECHAT_APPID": None}, "WECHAT_APPID"),
    ({"WECHAT_SECRET": None}, "WECHAT_SECRET"),
    ({"WECHAT_TOKEN": "dev-token"}, "WECHAT_TOKEN"),
    ({"WECHAT_AES_KEY": "short"}, "WECHAT_AES_KEY"),
    ({"DATABASE_URL": "sqlite:////tmp/x.db"}, "SQLite"),
    ({"DATABASE_URL": None}, "DATABASE_URL"),
    ({"PUBLIC_BASE_URL": "http://wx.school.example"}, "PUBLIC_BASE_URL"),
    ({"WECHAT_API_BASE": "http://127.0.0.1:5000/dev/api/"}, "WECHAT_API_BASE"),
    ({"WXAPP_ENV": "prod"}, "WXAPP_ENV"),
])
def test_unsafe_production_setting_is_refused_by_name(tmp_path, change, named):
    environ = {k: v for k, v in {**SAFE_PRODUCTION, **change}.items() if v is not None}
    with pytest.raises(ConfigError, match=named):
        load_settings(tmp_path, environ)


def test_development_generates_secrets_once_into_instance(tmp_path):
    first = load_settings(tmp_path, {})
    second = load_settings(tmp_path, {})
    assert first.secret_key == second.secret_key and len(first.pii_key) >= 32
    assert first.database_url.startswith("sqlite:///") and "wxapp.sqlite3" in first.database_url
    assert flask_config(first)["SQLALCHEMY_DATABASE_URI"] == first.database_url
    assert first.wechat_api_base == "http://127.0.0.1:5000/dev/api/" and first.wechat_sandbox
    assert first.wechat_token == "dev-token" and first.sms_backend == "console"
    assert (first.attendance_interval_min_s, first.attendance_interval_max_s, first.attendance_ttl_s) == (600, 1800, 180)


def test_production_start_with_missing_setting_stops_with_one_line(tmp_path):
    env = {k: v for k, v in SAFE_PRODUCTION.items() if k != "PII_KEY"}
    env.update({"PATH": "/usr/bin:/bin", "WXAPP_INSTANCE": str(tmp_path)})
    result = subprocess.run([sys.executable, "-c", "import wsgi"], env=env, capture_output=True, text=True,
                            cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["wxapp: configuration error: PII_KEY is missing"]


def test_development_names_the_demo_school_phone_and_production_warns_without_one(tmp_path):
    from wxapp.config import DEMO_SCHOOL_PHONE, startup_warnings

    assert load_settings(tmp_path, {}).school_phone == DEMO_SCHOOL_PHONE
    assert DEMO_SCHOOL_PHONE in load_settings(tmp_path, {}).school_contact
    assert load_settings(tmp_path, {"SCHOOL_PHONE": "0512-1234 5678"}).school_phone == "0512-1234 5678"
    production = load_settings(tmp_path, SAFE_PRODUCTION)
    assert production.school_phone is None  # production: required-or-empty, never the demo's number
    assert any("SCHOOL_PHONE" in line for line in startup_warnings(production))
    assert startup_warnings(load_settings(tmp_path, {**SAFE_PRODUCTION, "SCHOOL_PHONE": "0512-1234 5678"})) == []


def test_a_production_start_without_school_phone_logs_a_warning(tmp_path):
    env = {**SAFE_PRODUCTION, "PATH": "/usr/bin:/bin", "WXAPP_INSTANCE": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", "import wsgi"], env=env, capture_output=True, text=True,
                            cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert result.returncode == 0, result.stderr
    assert "SCHOOL_PHONE is not set" in result.stderr
    env["SCHOOL_PHONE"] = "0512-1234 5678"
    result = subprocess.run([sys.executable, "-c", "import wsgi"], env=env, capture_output=True, text=True,
                            cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert result.returncode == 0 and "SCHOOL_PHONE" not in result.stderr
