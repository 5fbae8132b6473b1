"""The citizen's data export (DSGVO Art. 15 and 20): the JSON download behind a signed link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest
from django.test import Client
from django.urls import reverse
from time_machine import TimeMachineFixture

from townhall.citizens.actions import (
    do_erase_citizen,
    do_record_inbound_contact,
    do_set_topics,
    do_subscribe_directly,
    do_withdraw_subscriptions,
)
from townhall.citizens.links import make_token
from townhall.citizens.models import (
    Citizen,
    ConsentRecord,
    Offering,
    Subscription,
    TopicSubscription,
)
from townhall.citizens.queries import citizen_export
from townhall.core import clock
from townhall.whatsapp import outbound
from townhall.whatsapp.actions import (
    do_process_webhook_event,
    do_queue_message,
    do_record_webhook_event,
)
from townhall.whatsapp.models import Message
from townhall.whatsapp.policy import Purpose

WA_ID = "4917612345604"
OTHER_WA_ID = "4915112340001"
FIRST_CONTACT = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
Channel = ConsentRecord.Channel


def receive_text(wa_id: str, name: str, body: str, at: datetime, message_id: str) -> None:
    """An inbound text through the real intake (stored webhook → parsed → Message row); the
    bot's handlers run only after commit, which these tests never reach."""
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "200000000000001",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "4929321000000",
                                "phone_number_id": "100000000000001",
                            },
                            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": message_id,
                                    "timestamp": str(int(at.timestamp())),
                                    "type": "text",
                                    "text": {"body": body},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    event_id = do_record_webhook_event(orjson.dumps(envelope))
    assert event_id is not None
    do_process_webhook_event(event_id)


@pytest.fixture
def citizen(db: None) -> Citizen:
    """Wrote once, subscribed to info (traffic) and chat by button, then left the chat; the
    mayor's office answered in between."""
    receive_text(WA_ID, "Klaus Becker", "Hallo Rathaus", FIRST_CONTACT, "wamid.export-1")
    citizen = do_record_inbound_contact(WA_ID, "Klaus Becker", FIRST_CONTACT)
    do_subscribe_directly(citizen, [Offering.INFO], channel=Channel.WHATSAPP_BUTTON)
    do_subscribe_directly(citizen, [Offering.CHAT], channel=Channel.WHATSAPP_BUTTON)
    do_set_topics(citizen, ["verkehr"], channel=Channel.WHATSAPP_BUTTON)
    do_queue_message(WA_ID, outbound.Text("Guten Tag, Herr Becker."), purpose=Purpose.CHAT)
    do_withdraw_subscriptions(citizen, [Offering.CHAT], channel=Channel.WHATSAPP_KEYWORD)
    # Someone else's data must not appear.
    receive_text(OTHER_WA_ID, "Jonas Weber", "Andere Person", FIRST_CONTACT, "wamid.export-2")
    do_record_inbound_contact(OTHER_WA_ID, "Jonas Weber", FIRST_CONTACT)
    return citizen


def export_path(citizen: Citizen, token: str | None = None) -> str:
    return reverse("citizens:export", args=[token or make_token(citizen, "export")])


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


@pytest.mark.django_db
def test_export_holds_everything_stored_about_the_citizen(client: Client, citizen: Citizen) -> None:
    records = list(ConsentRecord.objects.filter(citizen=citizen).order_by("id"))

    response = client.get(export_path(citizen))

    assert response.status_code == 200
    info = Subscription.objects.get(citizen=citizen, offering="info")
    chat = Subscription.objects.get(citizen=citizen, offering="chat")
    topic = TopicSubscription.objects.get(citizen=citizen)
    inbound = Message.objects.get(wa_id=WA_ID, direction="in")
    answer = Message.objects.get(wa_id=WA_ID, direction="out")
    assert orjson.loads(response.content) == {
        "wa_id": WA_ID,
        "profile_name": "Klaus Becker",
        "language": "de",
        "created_at": "2025-03-14T09:00:00+00:00",
        "last_inbound_at": "2025-03-14T09:00:00+00:00",
        "notification_mode": "all",
        "notification_mode_changed_at": None,
        "subscriptions": [
            {
                "offering": "info",
                "state": "active",
                "consent_text_version": "2026-12",
                "requested_at": iso(info.requested_at),
                "confirmed_at": iso(info.confirmed_at),
                "ended_at": None,
            },
            {
                "offering": "chat",
                "state": "ended",
                "consent_text_version": "2026-12",
                "requested_at": iso(chat.requested_at),
                "confirmed_at": iso(chat.confirmed_at),
                "ended_at": iso(chat.ended_at),
            },
        ],
        "topics": [{"topic": "verkehr", "is_active": True, "updated_at": iso(topic.updated_at)}],
        "consent_history": [
            {
                "kind": kind,
                "offering": offering,
                "topic": topic_slug,
                "channel": channel,
                "consent_text_version": version,
                "notification_mode": "",
                "age_confirmed": None,
                "referral_code": "",
                "created_at": iso(record.created_at),
            }
            for record, (kind, offering, topic_slug, channel, version) in zip(
                records,
                [
                    ("requested", "info", None, "whatsapp_button", None),
                    ("granted", "info", None, "whatsapp_button", "2026-12"),
                    ("requested", "chat", None, "whatsapp_button", None),
                    ("granted", "chat", None, "whatsapp_button", "2026-12"),
                    ("topic_added", "info", "verkehr", "whatsapp_button", None),
                    ("withdrawn", "chat", None, "whatsapp_keyword", None),
                ],
                strict=True,
            )
        ],
        "messages": [
            {
                "direction": "in",
                "type": "text",
                "text": "Hallo Rathaus",
                "content": inbound.payload,
                "profile_name": "Klaus Becker",
                "topic": "",
                "created_at": "2025-03-14T09:00:00+00:00",
                "status": "received",
            },
            {
                "direction": "out",
                "type": "text",
                "text": "Guten Tag, Herr Becker.",
                "content": answer.payload,
                "profile_name": "",
                "topic": "",
                "created_at": iso(answer.created_at),
                "status": "queued",
            },
        ],
        "reactions": [],
        "bot_session": None,
        "conversation": None,
        "poll_answers": [],
    }
    assert inbound.payload["text"] == {"body": "Hallo Rathaus"}
    assert inbound.created_at < answer.created_at


@pytest.mark.django_db
def test_export_is_a_download_that_no_cache_keeps(
    client: Client, citizen: Citizen, time_machine: TimeMachineFixture
) -> None:
    # given: ten past midnight on New Year's Day in Musterstadt, still 2027 in UTC
    time_machine.move_to(datetime(2028, 1, 1, 0, 10, tzinfo=ZoneInfo("Europe/Berlin")))

    response = client.get(export_path(citizen))

    assert response["Content-Type"] == "application/json"
    # named for the city's date, not UTC's
    assert response["Content-Disposition"] == (
        'attachment; filename="townhall-meine-daten-2028-01-01.json"'
    )
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_export_is_recorded(client: Client, citizen: Citizen) -> None:
    before = ConsentRecord.objects.count()

    response = client.get(export_path(citizen))

    exported = ConsentRecord.objects.filter(citizen=citizen, kind="data_exported")
    assert exported.count() == 1
    assert exported.get().channel == Channel.WEB_FORM
    assert exported.get().offering == ""
    assert ConsentRecord.objects.count() == before + 1
    # the file shows the state before this download
    kinds = [record["kind"] for record in orjson.loads(response.content)["consent_history"]]
    assert "data_exported" not in kinds


@pytest.mark.django_db
def test_export_reads_a_fixed_number_of_queries(
    citizen: Citizen, django_assert_num_queries
) -> None:
    for index in range(5):
        do_queue_message(WA_ID, outbound.Text(f"Nachricht {index}"), purpose=Purpose.INFO)

    # subscriptions, topics, consents, messages, reactions, bot session, conversation,
    # poll answers
    with django_assert_num_queries(8):
        data = citizen_export(citizen)

    assert len(data["messages"]) == 7


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["garbage", "1:1aBcD:xyz"])
def test_invalid_token_is_not_found_and_not_recorded(
    client: Client, citizen: Citizen, token: str
) -> None:
    response = client.get(export_path(citizen, token))

    assert response.status_code == 404
    assert b'data-testid="link-invalid"' in response.content
    assert WA_ID.encode() not in response.content
    assert not ConsentRecord.objects.filter(kind="data_exported").exists()


@pytest.mark.django_db
def test_preferences_token_does_not_download_data(client: Client, citizen: Citizen) -> None:
    response = client.get(export_path(citizen, make_token(citizen, "preferences")))

    assert response.status_code == 404
    assert not ConsentRecord.objects.filter(kind="data_exported").exists()


@pytest.mark.django_db
def test_expired_token_is_gone(
    client: Client, citizen: Citizen, time_machine: TimeMachineFixture
) -> None:
    # given a link made 25 hours ago (valid for 24)
    token = make_token(citizen, "export")
    time_machine.move_to(clock.now() + timedelta(hours=25))

    response = client.get(export_path(citizen, token), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 410
    assert b"This link has expired" in response.content
    assert response["Content-Type"].startswith("text/html")
    assert not ConsentRecord.objects.filter(kind="data_exported").exists()


@pytest.mark.django_db
def test_link_of_an_erased_citizen_is_gone(client: Client, citizen: Citizen) -> None:
    token = make_token(citizen, "export")
    do_erase_citizen(citizen, channel=Channel.STAFF)

    response = client.get(export_path(citizen, token))

    assert response.status_code == 410
    assert not ConsentRecord.objects.filter(kind="data_exported").exists()
