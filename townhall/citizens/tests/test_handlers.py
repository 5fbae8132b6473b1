from datetime import UTC, datetime, timedelta

import pytest

from townhall.citizens.handlers import on_inbound_message
from townhall.citizens.models import Citizen
from townhall.whatsapp.models import Message
from townhall.whatsapp.types import InboundMessage

SENT_AT = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def at_the_time_of_the_message(time_machine) -> None:
    """The worker handles the message a few seconds after the citizen wrote it, so the
    bot's answer is inside the 24-hour window."""
    time_machine.move_to(SENT_AT + timedelta(seconds=2))


def inbound(profile_name: str = "Anna Schneider", at: datetime = SENT_AT) -> InboundMessage:
    return InboundMessage(
        id="wamid.handler-test-1",
        from_wa_id="4915112345601",
        profile_name=profile_name,
        phone_number_id="100000000000001",
        timestamp=at,
        type="text",
        text="Schlagloch in der Hauptstraße",
        content={"body": "Schlagloch in der Hauptstraße"},
    )


def stored(message: InboundMessage) -> Message:
    return Message.objects.create(
        provider_id=message.id,
        direction=Message.Direction.INBOUND,
        wa_id=message.from_wa_id,
        profile_name=message.profile_name,
        type=message.type,
        text=message.text,
        payload={"type": message.type, message.type: message.content},
        status=Message.Status.RECEIVED,
        created_at=message.timestamp,
    )


@pytest.mark.django_db
def test_inbound_message_records_the_citizen() -> None:
    message = inbound()

    on_inbound_message(message, stored(message))

    citizen = Citizen.objects.get()
    assert citizen.wa_id == "4915112345601"
    assert citizen.profile_name == "Anna Schneider"
    assert citizen.last_inbound_at == SENT_AT
    # and the bot answers the stranger with the short help, as a service reply
    reply = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert reply.wa_id == "4915112345601"
    assert reply.status == Message.Status.QUEUED
    assert reply.purpose == "service_reply"
    assert reply.text.startswith("Hallo! Hier ist der WhatsApp-Service der Stadt Musterstadt.")
    assert [
        button["reply"]["id"] for button in reply.payload["interactive"]["action"]["buttons"]
    ] == [
        "cmd:start",
        "cmd:help",
    ]


@pytest.mark.django_db
def test_inbound_message_without_profile_name_keeps_the_known_name(time_machine) -> None:
    first = inbound()
    on_inbound_message(first, stored(first))
    later = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)
    time_machine.move_to(later + timedelta(seconds=2))
    second = InboundMessage(
        id="wamid.handler-test-2",
        from_wa_id="4915112345601",
        profile_name="",
        phone_number_id="100000000000001",
        timestamp=later,
        type="text",
        text="Danke!",
        content={"body": "Danke!"},
    )

    on_inbound_message(second, stored(second))

    citizen = Citizen.objects.get()
    assert citizen.profile_name == "Anna Schneider"
    assert citizen.last_inbound_at == later
    # both messages were answered, each when it came in
    replies = Message.objects.filter(direction=Message.Direction.OUTBOUND).order_by("id")
    assert [reply.created_at.replace(microsecond=0) for reply in replies] == [
        SENT_AT + timedelta(seconds=2),
        later + timedelta(seconds=2),
    ]


@pytest.mark.django_db
def test_registered_as_inbound_handler(settings) -> None:
    assert "townhall.citizens.handlers.on_inbound_message" in settings.WHATSAPP["INBOUND_HANDLERS"]
