"""Bad input at scale (property-based, hypothesis): whatever a citizen types, the keyword
recogniser and the bot answer without an uncaught exception. Budget: conftest's profile."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from townhall.citizens.keywords import Command, Match, match_keyword, normalize
from townhall.citizens.models import Citizen

# Letters WhatsApp users type, with the keywords' own words mixed in, and anything at all.
keyword_words = st.sampled_from(
    [
        "start",
        "stop",
        "stopp",
        "info",
        "chat",
        "themen",
        "hilfe",
        "meine",
        "daten",
        "löschen",
        "ja",
        "nein",
        "einstellungen",
        "abmelden",
        "bitte",
        "danke",
        "!",
        "?",
        "👍",
        "\u200b",
    ]
)
typed_text = st.lists(keyword_words | st.text(max_size=12), max_size=8).map(" ".join)
any_text = st.text(max_size=4096) | typed_text


@given(any_text)
@example("")
@example("\x00" * 50)
@example("a" * 4096)
@example("START " * 682)
@example("\ud7ff\U0010ffff\u0301\u0301")
def test_keyword_recogniser_answers_none_or_a_match_for_any_text(text: str) -> None:
    normalized = normalize(text)
    match = match_keyword(text)

    assert isinstance(normalized, str)
    assert match is None or (isinstance(match, Match) and isinstance(match.command, Command))


@pytest.mark.django_db
@settings(max_examples=30)
@given(text=any_text.filter(lambda value: value.strip()))
def test_any_text_from_a_citizen_is_handled_without_an_uncaught_exception(
    text: str, deliver_inbound
) -> None:
    # a task that raised fails the test (fail_on_task_errors)
    answers = deliver_inbound(
        {"type": "text", "text": {"body": text}}, wa_id="4915112349999", name="Test"
    )

    assert Citizen.objects.filter(wa_id="4915112349999").exists()
    assert len(answers) <= 2
