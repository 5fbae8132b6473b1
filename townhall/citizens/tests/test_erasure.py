"""Erasure requested by the citizen and completed later: the erasure record names the
channel the citizen used, also when the periodic recovery task completes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from townhall.citizens.actions import (
    do_erase_due_citizens,
    do_record_inbound_contact,
    do_request_erasure,
    do_subscribe_directly,
)
from townhall.citizens.links import make_token
from townhall.citizens.models import Citizen, ConsentRecord, Offering

WA_ID = "4917612345604"
FIRST_CONTACT = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
Channel = ConsentRecord.Channel


@pytest.fixture
def citizen(db: None) -> Citizen:
    citizen = do_record_inbound_contact(WA_ID, "Klaus Becker", FIRST_CONTACT)
    do_subscribe_directly(citizen, [Offering.CHAT], channel=Channel.WHATSAPP_BUTTON)
    return citizen


def an_hour_later() -> datetime:
    """Past the erasure delay and the longest wait for queued messages."""
    return timezone.now() + timedelta(hours=1)


def erased_records(citizen: Citizen) -> list[tuple[str, int | None]]:
    return list(
        ConsentRecord.objects.filter(citizen=citizen, kind=ConsentRecord.Kind.ERASED).values_list(
            "channel", "acting_user"
        )
    )


def test_erasure_asked_for_on_the_web_is_recorded_as_web_form(
    client: Client, citizen: Citizen
) -> None:
    # given
    token = make_token(citizen, "preferences")
    client.post(reverse("citizens:erase", args=[token]))
    citizen.refresh_from_db()
    assert citizen.erasure_requested_channel == Channel.WEB_FORM

    # when the periodic task completes it
    erased = do_erase_due_citizens(an_hour_later())

    # then
    assert erased == 1
    citizen.refresh_from_db()
    assert citizen.erased_at is not None
    assert citizen.wa_id != WA_ID
    assert erased_records(citizen) == [(Channel.WEB_FORM, None)]


@pytest.mark.parametrize(
    ("confirmation", "channel"),
    [
        ({"type": "text", "text": {"body": "Ja"}}, Channel.WHATSAPP_KEYWORD),
        (
            {
                "type": "interactive",
                "interactive": {
                    "type": "button_reply",
                    "button_reply": {"id": "erase:yes", "title": "Ja, löschen"},
                },
            },
            Channel.WHATSAPP_BUTTON,
        ),
    ],
    ids=["keyword", "button"],
)
def test_erasure_asked_for_in_whatsapp_is_recorded_with_its_channel(
    deliver_inbound, citizen: Citizen, confirmation: dict, channel: str
) -> None:
    # given LÖSCHEN, confirmed by keyword or button
    deliver_inbound({"type": "text", "text": {"body": "LÖSCHEN"}}, wa_id=WA_ID, name="Klaus")
    deliver_inbound(confirmation, wa_id=WA_ID, name="Klaus")
    citizen.refresh_from_db()
    assert citizen.erasure_requested_channel == channel

    # when
    erased = do_erase_due_citizens(an_hour_later())

    # then
    assert erased == 1
    citizen.refresh_from_db()
    assert citizen.erased_at is not None
    assert erased_records(citizen) == [(channel, None)]


def test_erasure_is_not_completed_before_it_is_due(citizen: Citizen) -> None:
    do_request_erasure(citizen, channel=Channel.WEB_FORM)

    erased = do_erase_due_citizens(timezone.now())

    assert erased == 0
    citizen.refresh_from_db()
    assert citizen.erased_at is None
    assert citizen.wa_id == WA_ID
    assert erased_records(citizen) == []


def test_a_second_request_keeps_the_first_channel(citizen: Citizen) -> None:
    do_request_erasure(citizen, channel=Channel.WHATSAPP_KEYWORD)

    do_request_erasure(citizen, channel=Channel.WEB_FORM)

    citizen.refresh_from_db()
    assert citizen.erasure_requested_channel == Channel.WHATSAPP_KEYWORD
    do_erase_due_citizens(an_hour_later())
    assert erased_records(citizen) == [(Channel.WHATSAPP_KEYWORD, None)]


def test_a_request_from_before_the_channel_was_stored_is_recorded_as_keyword(
    citizen: Citizen,
) -> None:
    # given a request stored before migration 0005 (no channel)
    do_request_erasure(citizen, channel=Channel.WEB_FORM)
    Citizen.objects.filter(pk=citizen.pk).update(erasure_requested_channel="")

    do_erase_due_citizens(an_hour_later())

    assert erased_records(citizen) == [(Channel.WHATSAPP_KEYWORD, None)]
