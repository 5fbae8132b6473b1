"""Tests of the typed webhook parser against real-shaped Cloud API payloads."""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from townhall.whatsapp.tests.payloads import fixture_bytes, fixture_names, load_fixture
from townhall.whatsapp.types import (
    InboundMessage,
    Location,
    MalformedWebhook,
    Media,
    MessageContext,
    Order,
    ParsedWebhook,
    Reaction,
    Reply,
    SharedContact,
    StatusUpdate,
    SystemEvent,
    WebhookError,
    parse_webhook,
)

PHONE_NUMBER_ID = "100000000000001"
OUR_NUMBER = "4929321000000"
ANNA = "4915112345678"
JONAS = "4916098765432"
ELIF = "4917612345670"
ERROR_CODES_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

# Our outbound messages that citizens replied or reacted to, and whose statuses arrive.
OUR_APPOINTMENT = "wamid.GA00OTI5MzIxMDAwMDAwFQIAEhgQT1VSLUFQUE9JTlRNRU5UMAA="
OUR_POLL = "wamid.GA00OTI5MzIxMDAwMDAwFQIAEhgQT1VSLVBPTEwwMDAwMDAwMAA="
OUR_TOPICS = "wamid.GA00OTI5MzIxMDAwMDAwFQIAEhgQT1VSLVRPUElDUzAwMDAwMAA="
OUR_FLOW = "wamid.GA00OTI5MzIxMDAwMDAwFQIAEhgQT1VSLUZMT1cwMDAwMDAwMAA="
OUR_NEWSLETTER = "wamid.GA00OTI5MzIxMDAwMDAwFQIAEhgQT1VSLU5FV1NMRVRURVIwMAA="
OUR_POST = "wamid.GA00OTI5MzIxMDAwMDAwFQIAEhgQT1VSLVBPU1QwMDAwMDAwMAA="
OUR_NEWS_1 = "wamid.GA00OTI5MzIxMDAwMDAwFQIAEhgQT1VSLU5FV1MtMTAwMDAwMAA="
OUR_NEWS_2 = "wamid.GA00OTI5MzIxMDAwMDAwFQIAEhgQT1VSLU5FV1MtMjAwMDAwMAA="
OUR_CHAT_REPLY = "wamid.GA00OTI5MzIxMDAwMDAwFQIAEhgQT1VSLUNIQVQtUkVQTFkwMAA="
OUR_VOICE = "wamid.GA00OTI5MzIxMDAwMDAwFQIAEhgQT1VSLVZPSUNFMDAwMDAwMAA="
OUR_BATCH_1 = "wamid.GA00OTI5MzIxMDAwMDAwFQIAEhgQT1VSLUJBVENILTEwMDAwMAA="
OUR_BATCH_2 = "wamid.GA00OTI5MzIxMDAwMDAwFQIAEhgQT1VSLUJBVENILTIwMDAwMAA="


def parse_only_message(name: str) -> InboundMessage:
    """Parse a single-message fixture and check it carried nothing else."""
    parsed = parse_webhook(load_fixture(name))
    assert parsed.statuses == ()
    assert parsed.errors == ()
    assert parsed.skipped == ()
    assert len(parsed.messages) == 1
    return parsed.messages[0]


def parse_only_status(name: str) -> StatusUpdate:
    """Parse a single-status fixture and check it carried nothing else."""
    parsed = parse_webhook(load_fixture(name))
    assert parsed.messages == ()
    assert parsed.errors == ()
    assert parsed.skipped == ()
    assert len(parsed.statuses) == 1
    return parsed.statuses[0]


def at(hour: int, minute: int, second: int = 0) -> datetime:
    """A moment on the day all fixtures were recorded (2025-06-18, UTC)."""
    return datetime(2025, 6, 18, hour, minute, second, tzinfo=UTC)


# --- inbound messages -------------------------------------------------------------------------


def test_text_message() -> None:
    message = parse_only_message("message_text")

    assert message == InboundMessage(
        id="wamid.GA00OTE1MTEyMzQ1Njc4FQIAEhgQVEVYVDAwMDAwMDAwMDAwMAA=",
        from_wa_id=ANNA,
        profile_name="Anna Schmidt",
        phone_number_id=PHONE_NUMBER_ID,
        timestamp=at(9, 15),
        type="text",
        text="Guten Tag, wann hat das Bürgerbüro in Musterstadt am Samstag geöffnet?",
        content={"body": "Guten Tag, wann hat das Bürgerbüro in Musterstadt am Samstag geöffnet?"},
    )
    assert message.timestamp.tzinfo is UTC


def test_text_reply_carries_the_replied_to_message() -> None:
    message = parse_only_message("message_text_reply_context")

    assert message.text == "Ja, bitte den Termin am Dienstag um 10 Uhr."
    assert message.context == MessageContext(
        forwarded=False,
        frequently_forwarded=False,
        replied_to_id=OUR_APPOINTMENT,
        replied_to_from=OUR_NUMBER,
    )


def test_forwarded_text_carries_forwarding_flags() -> None:
    message = parse_only_message("message_text_forwarded")

    assert message.from_wa_id == JONAS
    assert message.profile_name == "Jonas Becker"
    assert message.text == "Achtung: Die Brücke an der Hauptstraße ist ab Montag gesperrt!"
    assert message.context == MessageContext(
        forwarded=True, frequently_forwarded=True, replied_to_id="", replied_to_from=""
    )


def test_text_from_an_ad_keeps_the_raw_referral() -> None:
    message = parse_only_message("message_text_ad_referral")

    assert message.from_wa_id == ELIF
    assert message.profile_name == "Elif Demir"
    assert message.text == "Ich möchte die Stadtnachrichten abonnieren."
    assert message.referral is not None
    assert message.referral["source_type"] == "ad"
    assert message.referral["source_id"] == "120210000000000001"
    assert message.context is None


@pytest.mark.parametrize(
    ("name", "expected_type", "expected_media"),
    [
        (
            "message_image",
            "image",
            Media(
                id="1183746290517364",
                mime_type="image/jpeg",
                sha256="YQXWzHavQAMl6U1YjOURvlv9u3O0N9xR7KQ5F9ekPj0=",
                caption="Schlagloch in der Lindenstraße, Höhe Hausnummer 12",
                url=(
                    "https://lookaside.fbsbx.com/whatsapp_business/attachments/"
                    "?mid=1183746290517364&ext=1750238340&hash=ATuyrQ8Lk2Xv0s9Xe3kE7Lw"
                ),
            ),
        ),
        (
            "message_audio_voice",
            "audio",
            Media(
                id="2094857361029384",
                mime_type="audio/ogg; codecs=opus",
                sha256="xX1+kgGXCLYUyQ+jaFzWRPVDpgFT+5nsm2fDgaJF+yo=",
                is_voice=True,
            ),
        ),
        (
            "message_video",
            "video",
            Media(
                id="3928475610293847",
                mime_type="video/mp4",
                sha256="DKsclhdAT68rJOIh4YnKWUWBPhTT92Y0WwnKE7vij/w=",
                caption="Wasserschaden am Spielplatz im Stadtpark",
            ),
        ),
        (
            "message_document",
            "document",
            Media(
                id="4857361029384756",
                mime_type="application/pdf",
                sha256="Q8wj+lK4e0zB0CtbEUFUFR1q3dsXyf3cBrAn+pniQAg=",
                caption="Antrag Anwohnerparkausweis",
                filename="Antrag_Anwohnerparken.pdf",
            ),
        ),
        (
            "message_sticker",
            "sticker",
            Media(
                id="5738291046573829",
                mime_type="image/webp",
                sha256="V8SxOkxzNecvFmngUG6ZII3x2gUMEl2meLI+u1W/TGE=",
                is_animated=True,
            ),
        ),
    ],
)
def test_media_messages(name: str, expected_type: str, expected_media: Media) -> None:
    message = parse_only_message(name)

    assert message.type == expected_type
    assert message.media == expected_media
    # The display text of a media message is its caption ("" when there is none).
    assert message.text == expected_media.caption
    assert message.content["id"] == expected_media.id


def test_voice_note_is_flagged_and_has_no_caption() -> None:
    message = parse_only_message("message_audio_voice")

    assert message.media is not None
    assert message.media.is_voice is True
    assert message.media.is_animated is False
    assert message.text == ""


def test_location_message() -> None:
    message = parse_only_message("message_location")

    assert message.type == "location"
    assert message.location == Location(
        latitude=50.80193,
        longitude=8.76611,
        name="Rathaus Musterstadt",
        address="Marktplatz 1, 12345 Musterstadt",
        url="https://www.musterstadt.de",
    )
    assert message.text == "Rathaus Musterstadt"


def test_location_without_name_shows_coordinates() -> None:
    payload = load_fixture("message_location")
    location = payload["entry"][0]["changes"][0]["value"]["messages"][0]["location"]
    del location["name"]

    message = parse_webhook(payload).messages[0]

    assert message.text == "50.80193,8.76611"
    assert message.location is not None
    assert message.location.name == ""


def test_contacts_message() -> None:
    message = parse_only_message("message_contacts")

    assert message.type == "contacts"
    assert message.contacts == (
        SharedContact(
            formatted_name="Erika Mustermann",
            phones=("+49 151 23456789", "+49 6421 123456"),
            wa_ids=("4915123456789",),
        ),
        SharedContact(
            formatted_name="Max Mustermann",
            phones=("+49 170 1234567",),
            wa_ids=("491701234567",),
        ),
    )
    assert message.text == "Erika Mustermann, Max Mustermann"
    # Meta sends a list here; it is kept under its type name so content stays a dict.
    assert list(message.content) == ["contacts"]
    assert len(message.content["contacts"]) == 2


@pytest.mark.parametrize(
    ("name", "from_wa_id", "expected_reply", "replied_to_id"),
    [
        (
            "message_interactive_button_reply",
            ANNA,
            Reply(kind="button_reply", id="poll-7-option-1", title="Ja, gerne"),
            OUR_POLL,
        ),
        (
            "message_interactive_list_reply",
            JONAS,
            Reply(
                kind="list_reply",
                id="topic-waste",
                title="Abfall & Recycling",
                description="Abfuhrtermine, Sperrmüll, Wertstoffhof",
            ),
            OUR_TOPICS,
        ),
        (
            "message_interactive_nfm_reply",
            ANNA,
            Reply(
                kind="nfm_reply",
                id="flow",
                title="Sent",
                response_json=(
                    '{"flow_token":"appointment-42","service":"personalausweis","date":"2025-07-01"}'
                ),
            ),
            OUR_FLOW,
        ),
        (
            "message_button_template_quick_reply",
            ANNA,
            Reply(kind="button", id="news-unsubscribe", title="Abmelden"),
            OUR_NEWSLETTER,
        ),
    ],
)
def test_replies_to_interactive_messages(
    name: str, from_wa_id: str, expected_reply: Reply, replied_to_id: str
) -> None:
    message = parse_only_message(name)

    assert message.from_wa_id == from_wa_id
    assert message.reply == expected_reply
    assert message.text == expected_reply.title
    assert message.context is not None
    assert message.context.replied_to_id == replied_to_id
    assert message.context.replied_to_from == OUR_NUMBER


def test_flow_response_json_is_valid_json() -> None:
    message = parse_only_message("message_interactive_nfm_reply")

    assert message.type == "interactive"
    assert message.reply is not None
    assert json.loads(message.reply.response_json)["flow_token"] == "appointment-42"


def test_reaction() -> None:
    message = parse_only_message("message_reaction")

    assert message.type == "reaction"
    assert message.reaction == Reaction(message_id=OUR_POST, emoji="👍")
    assert message.reaction.is_removed is False
    assert message.text == "👍"


def test_reaction_removed_when_emoji_is_missing() -> None:
    message = parse_only_message("message_reaction_removed")

    assert message.reaction == Reaction(message_id=OUR_POST, emoji="")
    assert message.reaction.is_removed is True
    assert message.text == ""


def test_reaction_removed_when_emoji_is_empty() -> None:
    payload = load_fixture("message_reaction")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]["emoji"] = ""

    message = parse_webhook(payload).messages[0]

    assert message.reaction is not None
    assert message.reaction.is_removed is True


def test_order() -> None:
    message = parse_only_message("message_order")

    assert message.type == "order"
    assert message.order == Order(
        catalog_id="998877665544332",
        text="Bitte zwei Rollen Gelbe Säcke an das Bürgerbüro.",
        items=(
            {
                "product_retailer_id": "gelber-sack-rolle",
                "quantity": 2,
                "item_price": 0,
                "currency": "EUR",
            },
            {
                "product_retailer_id": "abfallkalender-2025",
                "quantity": 1,
                "item_price": 0,
                "currency": "EUR",
            },
        ),
    )
    assert message.text == "Bitte zwei Rollen Gelbe Säcke an das Bürgerbüro."


def test_system_message_changed_number() -> None:
    message = parse_only_message("message_system_changed_number")

    assert message.type == "system"
    assert message.from_wa_id == ANNA
    # This payload has no `contacts` array.
    assert message.profile_name == ""
    assert message.system == SystemEvent(
        kind="customer_changed_number",
        body="Anna Schmidt changed from 4915112345678 to 4915798765432",
        new_wa_id="4915798765432",
    )
    assert message.text == "Anna Schmidt changed from 4915112345678 to 4915798765432"


def test_system_message_changed_number_newer_wa_id_key() -> None:
    payload = load_fixture("message_system_changed_number")
    system = payload["entry"][0]["changes"][0]["value"]["messages"][0]["system"]
    system["wa_id"] = system.pop("new_wa_id")
    system["type"] = "user_changed_number"

    message = parse_webhook(payload).messages[0]

    assert message.system == SystemEvent(
        kind="user_changed_number",
        body="Anna Schmidt changed from 4915112345678 to 4915798765432",
        new_wa_id="4915798765432",
    )


def test_system_message_identity_changed() -> None:
    message = parse_only_message("message_system_identity_changed")

    assert message.system == SystemEvent(
        kind="customer_identity_changed", body="User identity changed", new_wa_id=""
    )
    assert message.profile_name == "Anna Schmidt"


def test_unsupported_message_carries_its_error() -> None:
    message = parse_only_message("message_unsupported")

    assert message.type == "unsupported"
    assert message.text == ""
    assert message.content == {"type": "poll_creation"}
    assert message.errors == (
        WebhookError(
            code=131051,
            title="Message type unknown",
            message="Message type unknown",
            details="Message type is currently not supported.",
        ),
    )


def test_unknown_message_type_with_old_style_error_details() -> None:
    message = parse_only_message("message_unknown_type")

    assert message.type == "unknown"
    assert message.from_wa_id == JONAS
    assert message.content == {}
    assert message.text == ""
    assert message.errors == (
        WebhookError(
            code=131051,
            title="Unsupported message type",
            details="Message type is not currently supported",
        ),
    )


def test_novel_message_type_is_kept_as_given() -> None:
    payload = load_fixture("message_text")
    raw_message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    raw_message["type"] = "hologram"
    raw_message["hologram"] = {"id": "777", "angle": 42}

    parsed = parse_webhook(payload)

    assert parsed.skipped == ()
    message = parsed.messages[0]
    assert message.type == "hologram"
    assert message.content == {"id": "777", "angle": 42}
    assert message.text == ""
    assert message.media is None


def test_integer_timestamp_is_accepted() -> None:
    payload = load_fixture("message_text")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = 1750238100

    message = parse_webhook(payload).messages[0]

    assert message.timestamp == at(9, 15)


# --- statuses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "status_sent",
            StatusUpdate(
                message_id=OUR_NEWS_1,
                status="sent",
                recipient_wa_id=ANNA,
                timestamp=at(10, 0),
                conversation_id="b1f2c3d4e5f60718293a4b5c6d7e8f90",
                conversation_origin="utility",
                pricing={"billable": True, "pricing_model": "CBP", "category": "utility"},
                biz_opaque_callback_data="delivery:1842",
            ),
        ),
        (
            "status_delivered",
            StatusUpdate(
                message_id=OUR_NEWS_1,
                status="delivered",
                recipient_wa_id=ANNA,
                timestamp=at(10, 0, 5),
                conversation_id="b1f2c3d4e5f60718293a4b5c6d7e8f90",
                conversation_origin="utility",
                pricing={"billable": True, "pricing_model": "CBP", "category": "utility"},
                biz_opaque_callback_data="delivery:1842",
            ),
        ),
        (
            "status_read",
            StatusUpdate(
                message_id=OUR_NEWS_1,
                status="read",
                recipient_wa_id=ANNA,
                timestamp=at(10, 3, 20),
                conversation_id="b1f2c3d4e5f60718293a4b5c6d7e8f90",
                conversation_origin="utility",
                pricing={"billable": True, "pricing_model": "CBP", "category": "utility"},
                biz_opaque_callback_data="delivery:1842",
            ),
        ),
        (
            "status_played",
            StatusUpdate(
                message_id=OUR_VOICE,
                status="played",
                recipient_wa_id=ANNA,
                timestamp=at(10, 7),
            ),
        ),
    ],
)
def test_statuses(name: str, expected: StatusUpdate) -> None:
    status = parse_only_status(name)

    assert status == expected
    assert status.timestamp.tzinfo is UTC


def test_status_failed_outside_service_window() -> None:
    status = parse_only_status("status_failed")

    assert status.message_id == OUR_CHAT_REPLY
    assert status.status == "failed"
    assert status.recipient_wa_id == JONAS
    assert status.timestamp == at(10, 5)
    assert status.errors == (
        WebhookError(
            code=131047,
            title="Re-engagement message",
            message="Re-engagement message",
            details=(
                "Message failed to send because more than 24 hours have passed"
                " since the customer last replied to this number."
            ),
            href=ERROR_CODES_HREF,
        ),
    )
    assert status.pricing == {}
    assert status.conversation_id == ""


def test_status_failed_undeliverable() -> None:
    status = parse_only_status("status_failed_undeliverable")

    assert status.message_id == OUR_NEWS_2
    assert status.recipient_wa_id == ELIF
    assert status.biz_opaque_callback_data == "delivery:1843"
    assert [error.code for error in status.errors] == [131026]
    assert status.errors[0].title == "Message undeliverable"
    assert status.errors[0].details == "Message Undeliverable."


def test_unknown_status_is_kept_as_given() -> None:
    payload = load_fixture("status_sent")
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] = "warning"

    parsed = parse_webhook(payload)

    assert parsed.skipped == ()
    assert parsed.statuses[0].status == "warning"


# --- envelopes, batches and system-level content ----------------------------------------------


def test_batch_with_multiple_entries() -> None:
    parsed = parse_webhook(load_fixture("batch_multiple_entries"))

    assert parsed.skipped == ()
    assert parsed.errors == ()
    assert [
        (message.from_wa_id, message.profile_name, message.phone_number_id, message.type)
        for message in parsed.messages
    ] == [
        (ANNA, "Anna Schmidt", PHONE_NUMBER_ID, "text"),
        (JONAS, "Jonas Becker", PHONE_NUMBER_ID, "image"),
        (ELIF, "Elif Demir", "100000000000002", "text"),
    ]
    assert [message.text for message in parsed.messages] == [
        "Ist der Wertstoffhof heute geöffnet?",
        "",
        "Danke für die schnelle Antwort!",
    ]
    assert parsed.messages[1].media is not None
    assert parsed.messages[1].media.id == "6758493021837465"
    assert [
        (status.message_id, status.status, status.recipient_wa_id, status.timestamp)
        for status in parsed.statuses
    ] == [
        (OUR_BATCH_1, "delivered", ELIF, at(10, 20, 10)),
        (OUR_BATCH_1, "read", ELIF, at(10, 20, 30)),
        (OUR_BATCH_2, "sent", JONAS, at(10, 20, 40)),
    ]


def test_change_with_other_field_is_skipped() -> None:
    parsed = parse_webhook(load_fixture("change_account_update"))

    assert parsed == ParsedWebhook(
        messages=(),
        statuses=(),
        errors=(),
        skipped=("entry 0 change 0: field 'account_update' ignored",),
    )


def test_value_level_errors() -> None:
    parsed = parse_webhook(load_fixture("value_errors"))

    assert parsed.messages == ()
    assert parsed.statuses == ()
    assert parsed.skipped == ()
    assert parsed.errors == (
        WebhookError(
            code=130429,
            title="Rate limit hit",
            message="(#130429) Rate limit hit",
            details="Cloud API message throughput has been reached.",
            href=ERROR_CODES_HREF,
        ),
    )


@pytest.mark.parametrize("name", [name for name in fixture_names() if name.startswith("message_")])
def test_every_message_fixture_parses_cleanly(name: str) -> None:
    message = parse_only_message(name)

    assert message.id.startswith("wamid.")
    assert message.phone_number_id == PHONE_NUMBER_ID
    assert message.timestamp.tzinfo is UTC


def test_fixture_bytes_match_the_decoded_fixture() -> None:
    assert json.loads(fixture_bytes("message_text")) == load_fixture("message_text")


def test_parsed_objects_are_frozen() -> None:
    message = parse_only_message("message_text")

    with pytest.raises(dataclasses.FrozenInstanceError):
        message.text = "geändert"  # type: ignore[misc]


# --- malformed input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "whatsapp_business_account",
        ["entry"],
        42,
        {},
        {"object": "page", "entry": []},
        {"object": "whatsapp_business_account"},
        {"object": "whatsapp_business_account", "entry": {"id": "1"}},
        {"entry": []},
    ],
)
def test_wrong_envelope_raises_malformed_webhook(payload: object) -> None:
    with pytest.raises(MalformedWebhook):
        parse_webhook(payload)


def test_malformed_webhook_message_contains_no_payload_content() -> None:
    payload = load_fixture("message_text")
    payload["object"] = f"Anna Schmidt {ANNA}"

    with pytest.raises(MalformedWebhook) as excinfo:
        parse_webhook(payload)

    assert ANNA not in str(excinfo.value)
    assert "Anna" not in str(excinfo.value)


def test_empty_entry_list_is_an_empty_webhook() -> None:
    parsed = parse_webhook({"object": "whatsapp_business_account", "entry": []})

    assert parsed == ParsedWebhook(messages=(), statuses=(), errors=(), skipped=())


@pytest.mark.parametrize(
    ("mutate", "expected_skip"),
    [
        (lambda message: message.pop("id"), "missing id"),
        (lambda message: message.pop("from"), "missing from"),
        (lambda message: message.pop("timestamp"), "missing timestamp"),
        (lambda message: message.pop("type"), "missing type"),
        (lambda message: message.update(id=12345), "invalid id"),
        (lambda message: message.update(id=""), "invalid id"),
        (lambda message: message.update(timestamp="gestern"), "invalid timestamp"),
        (lambda message: message.update(timestamp="-5"), "invalid timestamp"),
        (lambda message: message.update(timestamp=True), "invalid timestamp"),
        (lambda message: message.update(timestamp="9" * 40), "invalid timestamp"),
    ],
)
def test_malformed_message_is_skipped_and_others_survive(mutate: Any, expected_skip: str) -> None:
    # given a batch whose first message is broken
    payload = load_fixture("batch_multiple_entries")
    mutate(payload["entry"][0]["changes"][0]["value"]["messages"][0])

    # when
    parsed = parse_webhook(payload)

    # then only that message is missing
    assert parsed.skipped == (f"entry 0 change 0 message 0: {expected_skip}",)
    assert [message.from_wa_id for message in parsed.messages] == [JONAS, ELIF]
    assert len(parsed.statuses) == 3


def test_malformed_status_is_skipped_and_others_survive() -> None:
    payload = load_fixture("batch_multiple_entries")
    payload["entry"][1]["changes"][0]["value"]["statuses"][0].pop("id")
    payload["entry"][1]["changes"][0]["value"]["statuses"].append("kaputt")

    parsed = parse_webhook(payload)

    assert parsed.skipped == (
        "entry 1 change 0 status 0: missing id",
        "entry 1 change 0 status 2: not an object",
    )
    assert [(status.message_id, status.status) for status in parsed.statuses] == [
        (OUR_BATCH_1, "delivered"),
        (OUR_BATCH_2, "sent"),
    ]
    assert len(parsed.messages) == 3


def test_message_without_phone_number_id_is_skipped() -> None:
    payload = load_fixture("message_text")
    del payload["entry"][0]["changes"][0]["value"]["metadata"]

    parsed = parse_webhook(payload)

    assert parsed.messages == ()
    assert parsed.skipped == ("entry 0 change 0 message 0: missing metadata.phone_number_id",)


def test_malformed_entries_and_changes_are_skipped() -> None:
    payload = load_fixture("message_text")
    payload["entry"].insert(0, "kaputt")
    payload["entry"].append({"id": "102030405060708", "changes": None})
    payload["entry"][1]["changes"].append({"field": "messages", "value": []})
    payload["entry"][1]["changes"].append({"field": "Anna Schmidt", "value": {}})
    payload["entry"][1]["changes"].append({"field": "messages", "value": {"messages": {}}})

    parsed = parse_webhook(payload)

    assert len(parsed.messages) == 1
    assert parsed.skipped == (
        "entry 0: not an object",
        "entry 1 change 1: value is not an object",
        # A field name that is not identifier-like is not echoed.
        "entry 1 change 2: field '?' ignored",
        "entry 1 change 3: messages is not a list",
        "entry 2: changes is not a list",
    )


def test_media_message_without_media_id_is_kept_with_a_note() -> None:
    payload = load_fixture("message_image")
    del payload["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["id"]

    parsed = parse_webhook(payload)

    assert parsed.messages[0].type == "image"
    assert parsed.messages[0].media is None
    assert parsed.skipped == ("entry 0 change 0 message 0: media without id",)


# --- fuzz-ish robustness ----------------------------------------------------------------------

# A value that looks like personal data: it must never show up in `skipped` or in an exception.
PERSONAL_MARKER = "Geheim Müller 4915199999999"
WRONG_VALUES: tuple[object, ...] = (
    None,
    True,
    0,
    -1,
    1.5,
    float("inf"),
    10**30,
    "",
    "x",
    PERSONAL_MARKER,
    "9" * 5000,
    [],
    {},
    [None],
    {"x": None},
)


# Sentinel for `mutated`: delete the node instead of replacing it.
DELETE = object()


def json_paths(node: object, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path below the root of a decoded JSON document."""
    if isinstance(node, dict):
        for key, child in node.items():
            yield (*prefix, key)
            yield from json_paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield (*prefix, index)
            yield from json_paths(child, (*prefix, index))


def mutated(payload: dict[str, Any], path: tuple[Any, ...], replacement: object) -> Any:
    """A deep copy with the node at `path` deleted (replacement is DELETE) or replaced."""
    document = copy.deepcopy(payload)
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if replacement is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return document


def assert_parses_or_rejects_cleanly(payload: object) -> None:
    """Only success or MalformedWebhook are allowed, and no personal data may leak."""
    try:
        parsed = parse_webhook(payload)
    except MalformedWebhook as error:
        assert PERSONAL_MARKER not in str(error)
        assert re.search(r"\d{5,}", str(error)) is None
        return
    assert isinstance(parsed, ParsedWebhook)
    for note in parsed.skipped:
        assert PERSONAL_MARKER not in note
        assert "Müller" not in note
        # No phone number, wa_id or message id fragment in a note.
        assert re.search(r"\d{5,}", note) is None, note
    for message in parsed.messages:
        assert message.timestamp.tzinfo is UTC
        assert isinstance(message.content, dict)


@pytest.mark.parametrize("name", fixture_names())
def test_every_single_mutation_parses_or_raises_malformed_webhook(name: str) -> None:
    payload = load_fixture(name)

    for path in json_paths(payload):
        for replacement in (DELETE, *WRONG_VALUES):
            assert_parses_or_rejects_cleanly(mutated(payload, path, replacement))


@pytest.mark.parametrize("name", fixture_names())
def test_random_combined_mutations_parse_or_raise_malformed_webhook(name: str) -> None:
    randomizer = random.Random(name)  # deterministic per fixture
    original = load_fixture(name)

    for _ in range(50):
        payload = original
        for _ in range(randomizer.randint(2, 5)):
            paths = list(json_paths(payload))
            if not paths:
                break
            path = randomizer.choice(paths)
            payload = mutated(payload, path, randomizer.choice((DELETE, *WRONG_VALUES)))
        assert_parses_or_rejects_cleanly(payload)
