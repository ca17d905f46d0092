"""Development Redis state belongs to one `instance/`: a fresh instance (new SQLite file, trainee
ids from 1 again) must not pick up the player state an old one left in the shared local Redis."""
from __future__ import annotations

from services import keys
from tests.conftest import base_settings
from wxapp import config, create_app
from wxapp.config import load_settings


def test_each_development_instance_gets_its_own_lasting_prefix(tmp_path):
    first = load_settings(tmp_path / "one", {}).redis_key_prefix
    assert first.startswith("wxapp:") and len(first) > len("wxapp:")
    assert load_settings(tmp_path / "one", {}).redis_key_prefix == first  # kept across restarts
    assert load_settings(tmp_path / "two", {}).redis_key_prefix != first  # a fresh instance


def test_tests_and_production_keep_the_plain_prefix_and_a_setting_wins(tmp_path):
    assert load_settings(tmp_path, {"WXAPP_ENV": "testing"}).redis_key_prefix == "wxapp"
    assert load_settings(tmp_path, {"REDIS_KEY_PREFIX": "school-b"}).redis_key_prefix == "school-b"
    assert not (tmp_path / "redis_prefix").exists()


def test_a_development_app_keys_its_player_state_under_its_prefix(tmp_path, sqlite_url, redis_url):
    settings = {**base_settings(sqlite_url, redis_url, str(tmp_path / "instance")), "WXAPP_ENV": "development"}
    try:
        app = create_app(settings)
        prefix = config.of(app).redis_key_prefix
        assert keys.play(1) == f"{prefix}:play:1" != "wxapp:play:1"
        create_app({**settings, "WXAPP_INSTANCE": str(tmp_path / "fresh")})
        assert keys.play(1) != f"{prefix}:play:1"  # the fresh instance can't see the old state
    finally:
        create_app(base_settings(sqlite_url, redis_url, str(tmp_path / "instance")))
    assert keys.play(1) == "wxapp:play:1"
