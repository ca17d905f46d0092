"""Static files by content address: a page names each script and style with `?v=<digest>`, so a
phone that cached the old player.js fetches the new one as soon as a deploy changes it."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from wxapp.assets import VERSIONED_MAX_AGE_S, version_of

STATIC = Path(__file__).resolve().parents[1] / "wxapp" / "static"
ADMIN_STATIC = Path(__file__).resolve().parents[1] / "wxapp" / "admin" / "static"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


@pytest.mark.parametrize("page, url_path, folder, filename", [
    ("/verify/ABCDEFGHJKMN", "/static/h5.css", STATIC, "h5.css"),
    ("/admin/login", "/admin/static/vendor/htmx.min.js", ADMIN_STATIC, "vendor/htmx.min.js"),
])
def test_pages_name_assets_by_their_content(client, page, url_path, folder, filename):
    html = client.get(page).get_data(as_text=True)
    found = re.search(re.escape(url_path) + r"\?v=([0-9a-f]+)", html)
    assert found, html[:600]
    assert found.group(1) == digest(folder / filename)

    r = client.get(f"{url_path}?v={found.group(1)}")
    assert r.status_code == 200 and r.data == (folder / filename).read_bytes()
    assert r.cache_control.max_age == VERSIONED_MAX_AGE_S and r.cache_control.immutable
    assert not r.cache_control.no_cache  # else the browser asks again each time anyway


def test_an_outdated_address_is_served_but_not_kept(client):
    r = client.get("/static/h5.css?v=0000000000")
    assert r.status_code == 200
    assert not r.cache_control.immutable and r.cache_control.max_age != VERSIONED_MAX_AGE_S


def test_a_changed_file_gets_a_new_address(tmp_path):
    script = tmp_path / "player.js"
    script.write_text("var a = 1;")
    before = version_of(str(tmp_path), "player.js")
    script.write_text("var a = 2; // fixed")
    after = version_of(str(tmp_path), "player.js")
    assert before and after and before != after
    assert after == digest(script)
    assert version_of(str(tmp_path), "missing.js") is None
