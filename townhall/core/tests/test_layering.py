"""The layering rule of docs/architecture.md: domain apps never import the screens' app.

``townhall.staff`` holds pages; what screens share lives in ``townhall.web``. A domain app
that imported ``townhall.staff`` would tie business code to one set of pages again.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TOWNHALL = Path(__file__).resolve().parents[2]
DOMAIN_APPS = ["inbox", "citizens", "whatsapp", "channel", "core", "simulator", "web"]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


@pytest.mark.parametrize("app", DOMAIN_APPS)
def test_domain_apps_do_not_import_the_staff_screens(app: str) -> None:
    offenders = [
        f"{path.relative_to(TOWNHALL.parent)} imports {module}"
        for path in sorted((TOWNHALL / app).rglob("*.py"))
        for module in sorted(imported_modules(path))
        if module == "townhall.staff" or module.startswith("townhall.staff.")
    ]

    assert offenders == []


def test_the_rule_sees_an_import_of_the_staff_app(tmp_path: Path) -> None:
    module = tmp_path / "views.py"
    module.write_text("from townhall.staff.views import message_log\nimport townhall.staff\n")

    assert {"townhall.staff.views", "townhall.staff"} <= imported_modules(module)
