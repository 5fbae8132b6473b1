"""Dates and times read the same way in German and English: day first, 24-hour clock."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from townhall.inbox.tests.factories import make_staff
from townhall.whatsapp.tests.factories import make_citizen, make_inbound, make_outbound

EVENING = datetime(2026, 12, 3, 19, 14, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected", "never"),
    [
        (
            "de",
            ["Donnerstag, 3. Dezember 2026", "3. Dezember 2026 19:14", "04.12.2026 19:14"],
            ["7:14"],
        ),
        (
            "en",
            ["Thursday, 3 December 2026", "3 December 2026, 19:14", "4 Dec 2026, 19:14"],
            ["7:14", "p.m.", "12/03/2026", "Dec. 3"],
        ),
    ],
)
def test_the_message_log_shows_day_first_and_24_hour_times(
    client: Client, language: str, expected: list[str], never: list[str]
) -> None:
    # given: a message in the evening and our answer
    citizen = make_citizen("4917612345699", "Greta Sommer", EVENING)
    make_inbound(citizen, "Wann ist die Bibliothek offen?", at=EVENING)
    make_outbound(citizen, "Bis 20 Uhr.", at=EVENING)
    client.force_login(make_staff())

    # when
    html = client.get(
        reverse("staff:citizen_log", args=[citizen.pk]), headers={"Accept-Language": language}
    ).content.decode()

    # then
    for text in expected:
        assert text in html
    for text in never:
        assert text not in html
