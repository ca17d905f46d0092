"""The floors of DESIGN.md hold: the domain (services/) and the WeChat answers (handlers/) know no Flask
and nothing of the app; models/ imports nothing of ours but itself."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _offences(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for module in _imported_modules(path):
            if module.split(".")[0] in forbidden:
                found.append(f"{path.relative_to(ROOT)} imports {module}")
    return found


@pytest.mark.parametrize("folder", ["services", "handlers"])
def test_domain_and_handlers_import_neither_flask_nor_the_app(folder):
    assert _offences(folder, ("flask", "flask_sqlalchemy", "flask_wtf", "flask_login", "wxapp")) == []


def test_models_import_nothing_of_ours_but_models():
    assert _offences("models", ("services", "handlers", "wxapp", "scheduler")) == []


def test_the_check_sees_an_offence(tmp_path):
    sample = tmp_path / "bad.py"
    sample.write_text("from flask import current_app\nimport wxapp.extensions\n")
    assert _imported_modules(sample) >= {"flask", "wxapp.extensions"}
