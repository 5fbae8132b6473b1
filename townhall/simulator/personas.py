"""The demo citizens of Musterstadt: the simulator's phones and the citizens ``seed_demo``
gives a history, from one file (``personas.json``), so names and numbers always match."""

from __future__ import annotations

from pathlib import Path

import orjson

PERSONAS_FILE = Path(__file__).with_name("personas.json")


def load_personas() -> list[dict[str, str]]:
    data = orjson.loads(PERSONAS_FILE.read_bytes())
    return [
        {
            "wa_id": str(item["wa_id"]),
            "name": str(item["name"]),
            "description": str(item.get("description", "")),
        }
        for item in data
    ]


def persona_name(wa_id: str) -> str:
    """The demo citizen's profile name; a ``KeyError`` for a number that is no persona."""
    return {persona["wa_id"]: persona["name"] for persona in load_personas()}[wa_id]
