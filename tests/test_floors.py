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
# Arrows back up that stay for now, each for its reason; no other may join them.
KNOWN_BACK_ARROWS = {
    # the menu's overview of a trainee shows the exam's state next to the hours that open it
    ("services/study/overview.py", "services.exam.state"),
    # the development demo data loads the sample question bank with the rest
    ("services/school/demo.py", "services.exam.bank"),
}


def _back_arrows() -> set[tuple[str, str]]:
    found = set()
    for level, package in enumerate(CAPABILITIES):
        for path in sorted((ROOT / "services" / package).rglob("*.py")):
            for module in _imported_modules(path):
                parts = module.split(".")
                if parts[0] == "services" and len(parts) > 1 and parts[1] in CAPABILITIES[level + 1:]:
                    found.add((str(path.relative_to(ROOT)), module))
    return found


def test_capability_packages_import_only_the_ones_below_them():
    assert _back_arrows() - KNOWN_BACK_ARROWS == set()


def test_the_known_back_arrows_are_still_there_or_leave_the_list():
    assert KNOWN_BACK_ARROWS <= _back_arrows()


def test_every_capability_package_is_placed_on_a_floor():
    packages = {p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists()}
    assert packages == set(CAPABILITIES)


def test_the_shared_floor_imports_no_capability_package():
    offences = [f"{path.name} imports {module}" for path in sorted((ROOT / "services").glob("*.py"))
                for module in _imported_modules(path)
                if module.split(".")[:2][-1] in CAPABILITIES and module.startswith("services.")]
    assert offences == []


def test_the_check_sees_an_offence(tmp_path):
    sample = tmp_path / "bad.py"
    sample.write_text("from flask import current_app\nimport wxapp.extensions\n")
    assert _imported_modules(sample) >= {"flask", "wxapp.extensions"}
