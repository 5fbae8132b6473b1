"""Template hygiene that a reader of any page would notice."""

from __future__ import annotations

import re
from pathlib import Path

import townhall

TEMPLATES = sorted(Path(townhall.__file__).parent.glob("*/templates/**/*.html"))


def test_no_comment_spans_lines() -> None:
    # Django's {# … #} ends at the line's end; a second line turns the comment into page
    # text (the staff pages showed "{# No page snapshots …" above the navigation).
    unclosed = [
        f"{path.relative_to(Path(townhall.__file__).parent)}:{number}"
        for path in TEMPLATES
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"\{#(?!.*#\})", line)
    ]
    assert TEMPLATES
    assert unclosed == []
