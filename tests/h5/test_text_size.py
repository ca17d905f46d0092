"""WeChat's font setting (care mode) is honoured: no trainee page freezes the text size, and none
forbids zooming. What large text does to the layout: tests/browser/test_large_text_browser.py."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "wxapp"
SOURCES = [*ROOT.glob("static/*.css"), *ROOT.glob("static/*.js"), *ROOT.glob("h5/templates/h5/*")]


def test_no_page_freezes_the_text_size_or_forbids_zoom():
    assert SOURCES
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        # WeChat's own switch to ignore the user's font setting (Android), and the iOS freeze.
        assert "setFontSizeCallback" not in text, path
        for value in re.findall(r"text-size-adjust\s*:\s*([^;}]+)", text):
            assert "!important" not in value and value.strip() not in ("none", "0"), (path, value)
        assert not re.search(r"user-scalable\s*=\s*(no|0)|maximum-scale\s*=\s*1(\.0)?\b", text), path

