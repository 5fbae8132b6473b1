"""Meta's template rules, checked before anything is submitted: one test per rule, each
with the exact sentence staff see."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from townhall.whatsapp.models import MessageTemplate
from townhall.whatsapp.templates import check_template

VALID_BODY = (
    "Neue Meldung der Stadt Musterstadt: *{{1}}*\n\nWorum es geht: {{2}}\n\nAbmelden mit STOPP."
)


def draft(**fields: Any) -> MessageTemplate:
    values: dict[str, Any] = {
        "name": "info_kanal_beitrag",
        "language": "de",
        "category": "utility",
        "body": VALID_BODY,
        "body_examples": ["Straßensperrung", "Die Hauptstraße ist gesperrt."],
        "buttons": [
            {
                "type": "url",
                "text": "Mehr lesen",
                "url": "https://musterstadt.example/p/{{1}}",
                "example": "abc123",
            }
        ],
    }
    values.update(fields)
    return MessageTemplate(**values)


def problems_of(template: MessageTemplate) -> list[str]:
    with translation.override("en"):
        return check_template(template)


def test_a_template_that_follows_every_rule_has_no_problems() -> None:
    assert problems_of(draft()) == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": ""}, "The name is missing."),
        (
            {"name": "Info Kanal"},
            "The name may only contain lowercase letters, digits and underscores (no spaces).",
        ),
        ({"name": "a" * 513}, "The name has 513 characters; Meta allows at most 512."),
        ({"language": "Deutsch"}, "The language must be a code like “de” or “en_US”."),
        ({"category": "authentication"}, "The category must be utility or marketing."),
        (
            {"message_send_ttl_seconds": 20},
            "The time to live of a utility template must be between 30 and 43200 seconds.",
        ),
        (
            {"category": "marketing", "message_send_ttl_seconds": 3600},
            "The time to live of a marketing template must be between 43200 and 2592000 seconds.",
        ),
        ({"body": "  "}, "The body is missing."),
        (
            {"body": "Hinweis: " + "x" * 1020 + " {{1}} Ende.", "body_examples": ["a"]},
            "The body has 1041 characters; Meta allows at most 1024.",
        ),
        (
            {"body": "{{1}} ist gesperrt: {{2}}. Mehr im Netz.", "body_examples": ["a", "b"]},
            "The body must not begin with a parameter; put some text before it.",
        ),
        (
            {"body": "Meldung: {{1}}, Details: {{2}}", "body_examples": ["a", "b"]},
            "The body must not end with a parameter; put some text after it.",
        ),
        (
            {"body": "Meldung: {{1}} {{2}} Ende.", "body_examples": ["a", "b"]},
            "Two parameters must not follow each other without text between them.",
        ),
        (
            {"body": "Meldung: {{1}} und {{3}} Ende.", "body_examples": ["a", "b"]},
            "The parameters in the body must be numbered {{1}} to {{2}} without gaps.",
        ),
        (
            {"body": "Hallo {{name}}, willkommen.", "body_examples": []},
            "Parameters in the body must be numbered like {{1}}, {{2}}.",
        ),
        (
            {"body": "Hallo {{1}, willkommen.", "body_examples": []},
            "The body has unbalanced braces; a parameter is written {{1}}.",
        ),
        (
            {"body_examples": ["Straßensperrung"]},
            "Meta needs an example for each of the 2 parameters of the body.",
        ),
        (
            {"body_examples": ["Straßensperrung", " "]},
            "Meta needs an example for each of the 2 parameters of the body.",
        ),
        ({"header_format": "text", "header_text": ""}, "The text header is empty."),
        (
            {"header_format": "text", "header_text": "x" * 61},
            "The header has 61 characters; Meta allows at most 60.",
        ),
        (
            {"header_format": "text", "header_text": "{{1}} und {{2}}", "header_example": "a"},
            "The header may have at most one parameter.",
        ),
        (
            {"header_format": "text", "header_text": "Stadt {{1}}"},
            "Meta needs an example for the parameter of the header.",
        ),
        (
            {"header_format": "image", "header_media_link": "http://musterstadt.example/a.png"},
            "An image or document header needs a sample as an https link.",
        ),
        ({"footer": "f" * 61}, "The footer has 61 characters; Meta allows at most 60."),
        ({"footer": "Stadt {{1}}"}, "The footer must not contain parameters."),
        (
            {"buttons": [{"type": "quick_reply", "text": f"Antwort {n}"} for n in range(11)]},
            "A template has at most 10 buttons.",
        ),
        (
            {
                "buttons": [
                    {"type": "url", "text": f"Link {n}", "url": "https://musterstadt.example/"}
                    for n in range(3)
                ]
            },
            "A template has at most 2 link buttons.",
        ),
        (
            {
                "buttons": [
                    {"type": "phone_number", "text": "Anrufen", "phone_number": "+4929321000"},
                    {"type": "phone_number", "text": "Notruf", "phone_number": "+4929321001"},
                ]
            },
            "A template has at most one phone number button.",
        ),
        (
            {"buttons": [{"type": "copy_code", "text": "Code"}]},
            "A button must be a quick reply, a link or a phone number.",
        ),
        (
            {
                "buttons": [
                    {"type": "quick_reply", "text": "Ja"},
                    {"type": "url", "text": "Mehr", "url": "https://musterstadt.example/"},
                    {"type": "quick_reply", "text": "Nein"},
                ]
            },
            "Quick replies and the other buttons must each stand together, not mixed.",
        ),
        (
            {"buttons": [{"type": "quick_reply", "text": "x" * 26}]},
            f"The button “{'x' * 26}” needs 1 to 25 characters.",
        ),
        (
            {"buttons": [{"type": "quick_reply", "text": "Ja"}] * 2},
            "Two buttons must not have the same text.",
        ),
        (
            {"buttons": [{"type": "url", "text": "Mehr", "url": "http://musterstadt.example/"}]},
            "The link of “Mehr” must be a valid https address.",
        ),
        (
            {
                "buttons": [
                    {
                        "type": "url",
                        "text": "Mehr",
                        "url": "https://x.example/{{1}}/a",
                        "example": "1",
                    }
                ]
            },
            "The link of “Mehr” may only end with {{1}}, nowhere else.",
        ),
        (
            {"buttons": [{"type": "url", "text": "Mehr", "url": "https://x.example/{{1}}"}]},
            "Meta needs an example for the variable end of the link of “Mehr”.",
        ),
        (
            {"buttons": [{"type": "phone_number", "text": "Anrufen", "phone_number": "Rathaus"}]},
            "A phone number button needs a number like +4929321000000.",
        ),
    ],
)
def test_each_rule_is_reported_in_plain_words(fields: dict[str, Any], expected: str) -> None:
    assert problems_of(draft(**fields)) == [expected]


def test_the_time_to_live_within_metas_range_is_accepted() -> None:
    assert problems_of(draft(message_send_ttl_seconds=2 * 3600)) == []
    assert problems_of(draft(category="marketing", message_send_ttl_seconds=86400)) == []


def test_staff_read_the_rules_in_german() -> None:
    template = draft(body="{{1}} ist gesperrt.", body_examples=["Die Straße"])

    with translation.override("de"):
        problems = check_template(template)

    assert problems == ["Der Text darf nicht mit einem Parameter beginnen; setzen Sie Text davor."]
