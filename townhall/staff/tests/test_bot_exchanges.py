"""Talks with the bot (START, HILFE, MEINE DATEN and its answers) take one line in the staff
pages, which opens to show them; what the citizen wrote to the office stays in view."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from townhall.citizens.models import Citizen
from townhall.inbox.models import Conversation
from townhall.inbox.tests.factories import make_staff

WA_ID = "4915112340077"
# An ordinary working day, office hours: no auto-reply.
MONDAY_MORNING = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
REPORT = "Die Ampel an der Schulstraße ist seit gestern aus."


def text(body: str) -> dict:
    return {"type": "text", "text": {"body": body}}


def button(button_id: str, title: str) -> dict:
    return {
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": button_id, "title": title}},
    }


@pytest.fixture
def citizen_talked_to_bot_and_office(deliver_inbound) -> Citizen:
    minutes = iter(range(100))

    def send(message: dict) -> None:
        # A minute apart, as a person types; the bot answers within that minute.
        at = MONDAY_MORNING + timedelta(minutes=next(minutes))
        deliver_inbound(message, wa_id=WA_ID, name="Jonas Weber", at=at)

    send(text("Start"))  # welcome
    send(button("offer:chat", "Chat"))  # consent question
    send(button("consent:yes", "Ja"))  # thank you
    send(text(REPORT))  # for the office
    send(text("HILFE"))  # the command list
    send(text("MEINE DATEN"))  # what we store
    return Citizen.objects.get(wa_id=WA_ID)


class _Exchanges(HTMLParser):
    """The text inside each folded talk (details nest: the status history is one too)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "details" and self.depth:
            self.depth += 1
        elif tag == "details" and ("class", "bot-exchange") in attrs:
            self.depth = 1
            self.found.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "details" and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.found[-1] += data


def exchanges(html: str) -> list[str]:
    parser = _Exchanges()
    parser.feed(html)
    return parser.found


def summaries(html: str) -> list[str]:
    found = re.findall(r'<summary class="bot-exchange__summary">(.*?)</summary>', html, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", summary)).strip() for summary in found]


@pytest.mark.django_db
def test_the_message_log_folds_each_talk_with_the_bot_into_one_line(
    client: Client, citizen_talked_to_bot_and_office
) -> None:
    client.force_login(make_staff())

    html = client.get(
        reverse("staff:citizen_log", args=[citizen_talked_to_bot_and_office.pk])
    ).content.decode()

    # then: two folded talks (registration; HILFE + MEINE DATEN), the report outside them
    folded = exchanges(html)
    assert len(folded) == 2
    assert "Start" in folded[0] and "Willkommen" in folded[0]
    assert "MEINE DATEN" in folded[1] and "Was wir über Sie speichern" in folded[1]
    assert all(REPORT not in part for part in folded)
    assert REPORT in html
    assert summaries(html) == [
        "Bot „Start“ und die Antworten des Bots, 10:00 (6 Nachrichten)",
        "Bot „HILFE“ und die Antworten des Bots, 10:04 (4 Nachrichten)",
    ]


@pytest.mark.django_db
def test_the_inbox_conversation_folds_talks_with_the_bot_too(
    client: Client, citizen_talked_to_bot_and_office
) -> None:
    client.force_login(make_staff())
    conversation = Conversation.objects.get(citizen=citizen_talked_to_bot_and_office)

    html = client.get(
        reverse("inbox:conversation", args=[conversation.pk]), headers={"Accept-Language": "en"}
    ).content.decode()

    folded = exchanges(html)
    assert len(folded) == 2
    assert all(REPORT not in part for part in folded)
    assert summaries(html)[1] == "Bot “HILFE” and the bot’s answers, 10:04 (4 messages)"
