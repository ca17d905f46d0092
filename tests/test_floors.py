"""The floors of DESIGN.md hold: the domain (services/) and the WeChat answers (handlers/) know no Flask
and nothing of the app; models/ imports nothing of ours but itself; and inside services/ the
capability packages stand on one another in one order, under the console's read-only queries and
over the shared floor (services/*.py), with no arrow running back up."""
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


# Lowest first: a package may import those before it, never one after it.
CAPABILITIES = ("identity", "school", "completion", "notices", "study", "exam", "admin")
# Modules of services/ that compose several capabilities, above them all: a trainee's overview (hours,
# class and exam for the menu and the portal), the development demo data, a trainee moving their
# binding to a new WeChat (binding, its SMS code through the notices, the old page stopped).
COMPOSITIONS = ("overview", "demo", "rebind")


def _services_imported(path: Path) -> set[tuple[str, ...]]:
    return {tuple(module.split(".")[1:]) for module in _imported_modules(path)
            if module.startswith("services.") or module == "services"}


def _back_arrows() -> list[str]:
    found = []
    for level, package in enumerate(CAPABILITIES):
        above = set(CAPABILITIES[level + 1:]) | set(COMPOSITIONS)
        for path in sorted((ROOT / "services" / package).rglob("*.py")):
            found += [f"{path.relative_to(ROOT)} imports services.{'.'.join(parts)}"
                      for parts in _services_imported(path) if parts and parts[0] in above]
    return found


def test_capability_packages_import_only_the_ones_below_them():
    assert _back_arrows() == []


def test_every_capability_package_is_placed_on_a_floor():
    packages = {p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists()}
    assert packages == set(CAPABILITIES)


def test_the_shared_floor_imports_no_capability_package():
    offences = [f"{path.name} imports services.{'.'.join(parts)}"
                for path in sorted((ROOT / "services").glob("*.py")) if path.stem not in COMPOSITIONS
                for parts in _services_imported(path) if parts and parts[0] in CAPABILITIES + COMPOSITIONS]
    assert offences == []


def test_the_check_sees_an_offence(tmp_path):
    sample = tmp_path / "bad.py"
    sample.write_text("from flask import current_app\nimport wxapp.extensions\n")
    assert _imported_modules(sample) >= {"flask", "wxapp.extensions"}
