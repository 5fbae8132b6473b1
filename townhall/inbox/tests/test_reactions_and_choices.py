"""Reactions in the inbox (the citizen's never touch the conversation; staff react on a
citizen's message) and reply buttons or lists sent from the composer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from townhall.core import clock
from townhall.inbox.models import Conversation
from townhall.inbox.tests.factories import make_staff, open_around_the_clock
from townhall.whatsapp.actions import do_process_webhook_event, do_record_webhook_event
from townhall.whatsapp.models import Message, MessageReaction
from townhall.whatsapp.types import webhook_envelope

WA_ID = "4915112348001"
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def office_open(db: None, settings: Any) -> None:
    settings.INBOX_OBSERVES_HOLIDAYS = False
    open_around_the_clock()


@pytest.fixture
def staff_client(client: Client) -> Client:
    client.force_login(make_staff())
    return client


def text(body: str) -> dict:
    return {"type": "text", "text": {"body": body}}


def reaction(message_id: str, emoji: str) -> dict:
    return {"type": "reaction", "reaction": {"message_id": message_id, "emoji": emoji}}


def chat_citizen(deliver_inbound) -> Conversation:
    """A chat subscriber (START → chat → yes) who then wrote to the office."""
    send = lambda message: deliver_inbound(message, wa_id=WA_ID, name="Jonas Weber")  # noqa: E731
    send(text("Start"))
    send(
        {
            "type": "interactive",
            "interactive": {
                "type": "button_reply",
                "button_reply": {"id": "offer:chat", "title": "x"},
            },
        }
    )
    send(
        {
            "type": "interactive",
            "interactive": {
                "type": "button_reply",
                "button_reply": {"id": "consent:yes", "title": "x"},
            },
        }
    )
    send(text("Die Laterne vor Hausnummer 4 ist aus."))
    return Conversation.objects.get(citizen__wa_id=WA_ID)


def snapshot(conversation: Conversation) -> tuple:
    conversation.refresh_from_db()
    return (
        conversation.state,
        conversation.unread_count,
        conversation.last_message_at,
        conversation.last_message_preview,
        conversation.last_inbound_at,
        conversation.events.count(),
    )


@pytest.mark.django_db
def test_citizen_reactions_change_only_the_badge_latest_wins(deliver_inbound, time_machine):
    conversation = chat_citizen(deliver_inbound)
    ours = Message.objects.filter(direction="out", wa_id=WA_ID).latest("pk")
    Conversation.objects.filter(pk=conversation.pk).update(
        state=Conversation.State.RESOLVED, unread_count=0
    )
    before = snapshot(conversation)
    at = clock.now()

    # when: 👍, then ❤️, then a late re-ordered 👍 (older timestamp), and the reactions answer nothing
    answers = deliver_inbound(reaction(ours.provider_id, "👍"), wa_id=WA_ID, name="Jonas", at=at)
    answers += deliver_inbound(
        reaction(ours.provider_id, "❤️"), wa_id=WA_ID, name="Jonas", at=at + timedelta(seconds=5)
    )
    answers += deliver_inbound(
        reaction(ours.provider_id, "😮"),
        wa_id=WA_ID,
        name="Jonas",
        at=at + timedelta(seconds=2),
        delivered_at=at + timedelta(seconds=9),
    )

    # then
    assert answers == []
    (stored,) = MessageReaction.objects.all()
    assert (stored.message_provider_id, stored.emoji, stored.from_business) == (
        ours.provider_id,
        "❤️",
        False,
    )
    assert snapshot(conversation) == before

    # when: removed
    deliver_inbound(
        reaction(ours.provider_id, ""), wa_id=WA_ID, name="Jonas", at=at + timedelta(seconds=20)
    )
    stored.refresh_from_db()
    assert stored.emoji == ""
    assert snapshot(conversation) == before


def stored_reaction_webhook(message_id: str, emoji: str, *, wamid: str, at) -> int:
    """A reaction webhook stored by the intake and not yet applied; returns its event id."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": settings.WHATSAPP["DISPLAY_PHONE_NUMBER"],
            "phone_number_id": settings.WHATSAPP["PHONE_NUMBER_ID"],
        },
        "contacts": [{"profile": {"name": "Jonas"}, "wa_id": WA_ID}],
        "messages": [
            {
                "from": WA_ID,
                "id": wamid,
                "timestamp": str(int(at.timestamp())),
                **reaction(message_id, emoji),
            }
        ],
    }
    event_id = do_record_webhook_event(orjson.dumps(webhook_envelope(value)))
    assert event_id is not None
    return event_id


@pytest.mark.django_db
def test_a_change_within_the_same_second_wins_when_two_workers_apply_it_first(
    deliver_inbound,
):
    # given: Jonas sets 👍 and changes it to ❤️ within one second (WhatsApp's timestamps
    # are whole seconds); both webhooks are stored in the order they arrived
    chat_citizen(deliver_inbound)
    ours = Message.objects.filter(direction="out", wa_id=WA_ID).latest("pk")
    at = clock.now()
    first = stored_reaction_webhook(ours.provider_id, "👍", wamid="wamid.same-second-1", at=at)
    second = stored_reaction_webhook(ours.provider_id, "❤️", wamid="wamid.same-second-2", at=at)

    # when: two workers apply them the other way round
    do_process_webhook_event(second)
    do_process_webhook_event(first)

    # then: the badge shows the reaction Jonas left
    assert list(MessageReaction.objects.values_list("emoji", flat=True)) == ["❤️"]


@pytest.mark.django_db
def test_staff_react_to_a_citizens_message_without_moving_the_conversation(
    deliver_inbound, staff_client, fake_cloud_api, django_capture_on_commit_callbacks
):
    conversation = chat_citizen(deliver_inbound)
    question = Message.objects.filter(direction="in", wa_id=WA_ID, type="text").latest("pk")
    sent_before = len(fake_cloud_api.sent_bodies)
    react_url = reverse("inbox:react", args=[conversation.pk])

    page = staff_client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    assert f'action="{react_url}"' in page
    before = snapshot(conversation)  # read now

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            react_url, {"message": question.pk, "emoji": "👍"}, headers=HTMX
        )

    assert response.status_code == 200
    bubble = (
        response.content.decode().split(f'id="message-{question.pk}"')[1].split("</article>")[0]
    )
    assert 'data-emoji="👍"' in bubble and "bubble__reaction--city" in bubble
    assert fake_cloud_api.sent_bodies[sent_before:] == [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": WA_ID,
            "type": "reaction",
            "reaction": {"message_id": question.provider_id, "emoji": "👍"},
            "biz_opaque_callback_data": fake_cloud_api.sent_bodies[-1]["biz_opaque_callback_data"],
        }
    ]
    assert snapshot(conversation)[:4] == before[:4]

    # an emoji not on offer, or a message of another citizen, changes nothing
    staff_client.post(react_url, {"message": question.pk, "emoji": "💩"}, headers=HTMX)
    assert MessageReaction.objects.get(from_business=True).emoji == "👍"


@pytest.mark.django_db
def test_no_reaction_outside_the_24_hour_window(deliver_inbound, staff_client, time_machine):
    conversation = chat_citizen(deliver_inbound)
    question = Message.objects.filter(direction="in", wa_id=WA_ID, type="text").latest("pk")
    outbound_before = Message.objects.filter(direction="out").count()
    time_machine.move_to(clock.now() + timedelta(hours=25))

    page = staff_client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    response = staff_client.post(
        reverse("inbox:react", args=[conversation.pk]),
        {"message": question.pk, "emoji": "👍"},
        headers=HTMX,
    )

    assert reverse("inbox:react", args=[conversation.pk]) not in page
    assert "24 hours" in response.content.decode() or "24 Stunden" in response.content.decode()
    assert Message.objects.filter(direction="out").count() == outbound_before
    assert not MessageReaction.objects.exists()


@pytest.mark.django_db
def test_reply_buttons_and_lists_from_the_composer_and_the_tap_comes_back(
    deliver_inbound, staff_client, fake_cloud_api, django_capture_on_commit_callbacks
):
    conversation = chat_citizen(deliver_inbound)
    url = reverse("inbox:choices", args=[conversation.pk])
    outbound_before = Message.objects.filter(direction="out").count()

    # WhatsApp's limits are checked with a sentence for staff; nothing is sent
    too_many = staff_client.post(
        url,
        {"text": "Wann passt es?", "kind": "buttons", "choices": "Mo\nDi\nMi\nDo"},
        headers=HTMX,
    ).content.decode()
    too_long = staff_client.post(
        url,
        {"text": "Wann?", "kind": "list", "choices": "x" * 25, "list_button": "Auswählen"},
        headers=HTMX,
    ).content.decode()
    no_button = staff_client.post(
        url, {"text": "Wann?", "kind": "list", "choices": "Mo"}, headers=HTMX
    ).content.decode()
    assert "1 bis 3" in too_many or "1 to 3" in too_many
    assert "24" in too_long
    assert 'name="list_button"' in no_button and "field-error" in no_button
    assert Message.objects.filter(direction="out").count() == outbound_before

    # when: three buttons, then a list of four rows
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            url,
            {"text": "Wann passt es?", "kind": "buttons", "choices": "Montag\nDienstag\nMittwoch"},
            headers=HTMX,
        )
        staff_client.post(
            url,
            {
                "text": "Welcher Ort?",
                "kind": "list",
                "choices": "Rathaus\nBibliothek\nSchwimmbad\nPark",
                "list_button": "Ort wählen",
            },
            headers=HTMX,
        )

    buttons, rows = fake_cloud_api.sent_bodies[-2:]
    assert [b["reply"] for b in buttons["interactive"]["action"]["buttons"]] == [
        {"id": "staff:1", "title": "Montag"},
        {"id": "staff:2", "title": "Dienstag"},
        {"id": "staff:3", "title": "Mittwoch"},
    ]
    assert rows["interactive"]["type"] == "list"
    assert rows["interactive"]["action"]["button"] == "Ort wählen"
    assert [r["title"] for r in rows["interactive"]["action"]["sections"][0]["rows"]] == [
        "Rathaus",
        "Bibliothek",
        "Schwimmbad",
        "Park",
    ]

    # when: the citizen taps "Dienstag"; the answer is for the office, shown in the conversation
    sent = Message.objects.filter(direction="out", type="interactive").order_by("pk").first()
    answers = deliver_inbound(
        {
            "type": "interactive",
            "context": {"from": "x", "id": sent.provider_id},
            "interactive": {
                "type": "button_reply",
                "button_reply": {"id": "staff:2", "title": "Dienstag"},
            },
        },
        wa_id=WA_ID,
        name="Jonas Weber",
        # Meta's timestamps are whole seconds: the tap comes a moment after our list.
        at=clock.now() + timedelta(seconds=2),
    )
    assert answers == []  # the bot stays out of it
    conversation.refresh_from_db()
    assert conversation.last_message_preview == "Dienstag"
    assert conversation.unread_count >= 1
    page = staff_client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    assert "Dienstag" in page and "Mittwoch" in page
