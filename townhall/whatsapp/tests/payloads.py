"""Access to the real-shaped Cloud API webhook payloads in `fixtures/webhooks/`.

One scenario per file; tests of the webhook view, the workers and the simulator share them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

WEBHOOK_FIXTURES_DIR = Path(__file__).parent / "fixtures" / "webhooks"


def fixture_path(name: str) -> Path:
    """Path of a webhook fixture, by name with or without the `.json` suffix."""
    filename = name if name.endswith(".json") else f"{name}.json"
    path = WEBHOOK_FIXTURES_DIR / filename
    if not path.is_file():
        raise FileNotFoundError(f"no webhook fixture named {name!r} in {WEBHOOK_FIXTURES_DIR}")
    return path


def fixture_bytes(name: str) -> bytes:
    """The raw bytes of a fixture, e.g. to sign and POST exactly as Meta would."""
    return fixture_path(name).read_bytes()


def load_fixture(name: str) -> dict[str, Any]:
    """A fresh decoded copy of a fixture; callers may mutate it freely."""
    payload = json.loads(fixture_bytes(name))
    assert isinstance(payload, dict), f"fixture {name!r} is not a JSON object"
    return payload


def fixture_names() -> list[str]:
    """Names (without suffix) of all webhook fixtures, sorted."""
    return sorted(path.stem for path in WEBHOOK_FIXTURES_DIR.glob("*.json"))
