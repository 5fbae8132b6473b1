"""The inbox load data command: row counts and the consistency the inbox relies on."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from townhall.citizens.models import Citizen, ConsentRecord, Subscription
from townhall.inbox.models import Conversation, ConversationEvent, Label, Team
from townhall.inbox.office_hours import Schedule
from townhall.whatsapp.models import Message
from townhall.whatsapp.tests.factories import make_citizen

CONVERSATIONS = 50
MESSAGES_EACH = 4


def seed(conversations: int = CONVERSATIONS, **options: object) -> str:
    out = StringIO()
    call_command(
        "seed_inbox_scale",
        conversations=conversations,
        messages_per_conversation=MESSAGES_EACH,
        batch=20,
        stdout=out,
        **options,
    )
    return out.getvalue()


@pytest.mark.django_db
def test_seeds_the_requested_rows_and_reports_progress() -> None:
    output = seed()

    assert Citizen.objects.count() == CONVERSATIONS
    assert Conversation.objects.count() == CONVERSATIONS
    assert Message.objects.count() == CONVERSATIONS * MESSAGES_EACH
    assert Subscription.objects.filter(state=Subscription.State.ACTIVE).count() == CONVERSATIONS
    assert ConsentRecord.objects.filter(kind=ConsentRecord.Kind.GRANTED).count() == CONVERSATIONS
    assert ConversationEvent.objects.filter(kind="opened").count() == CONVERSATIONS
    assert Team.objects.count() == 6
    assert Label.objects.count() == 8
    assert get_user_model().objects.filter(username__startswith="seed-staff-").count() == 12
    assert set(Conversation.objects.values_list("state", flat=True)) <= set(
        Conversation.State.values
    )
    assert all(
        wa_id.startswith("49170") for wa_id in Citizen.objects.values_list("wa_id", flat=True)
    )
    # Three batches of at most 20, each with its progress line.
    assert output.count("rows/s") == 4
    assert "Done: 50 conversations, 200 messages" in output


@pytest.mark.django_db
def test_conversations_match_their_messages_and_events() -> None:
    # given
    seed()
    now = timezone.now()
    schedule = Schedule.load()
    messages: dict[str, list[Message]] = defaultdict(list)
    for message in Message.objects.order_by("created_at", "id"):
        messages[message.wa_id].append(message)
    events: dict[int, dict[str, ConversationEvent]] = defaultdict(dict)
    for event in ConversationEvent.objects.all():
        events[event.conversation_id][event.kind] = event

    # then
    for conversation in Conversation.objects.select_related("citizen"):
        history = messages[conversation.citizen.wa_id]
        newest = history[-1]
        inbound = [message for message in history if message.direction == "in"]
        outbound = [message for message in history if message.direction == "out"]
        assert len(history) == MESSAGES_EACH
        assert history[0].direction == "in"
        assert conversation.last_message_at == newest.created_at
        assert conversation.last_message_preview == newest.text
        assert conversation.last_message_direction == newest.direction
        assert conversation.last_inbound_at == inbound[-1].created_at
        assert conversation.citizen.last_inbound_at == inbound[-1].created_at
        assert conversation.opened_at == history[0].created_at
        assert now - timedelta(days=91) < history[0].created_at <= newest.created_at <= now
        waiting_for_office = conversation.state in ("new", "open")
        unanswered = (
            len(history)
            - 1
            - max(
                (index for index, message in enumerate(history) if message.direction == "out"),
                default=-1,
            )
        )
        assert conversation.unread_count == (unanswered if waiting_for_office else 0)
        if conversation.state == "new":
            assert outbound == []

        kinds = events[conversation.pk]
        assert kinds["opened"].created_at == conversation.opened_at
        # As the actions record it: the team of the conversation when it happened.
        assert {event.team_id for event in kinds.values()} == {conversation.team_id}
        if outbound:
            first_response = kinds["first_response"]
            assert conversation.first_response_at == outbound[0].created_at
            assert first_response.created_at == outbound[0].created_at
            assert first_response.office_seconds == schedule.office_seconds(
                conversation.opened_at, first_response.created_at
            )
            assert first_response.actor_id is not None
            # The office answers in office hours.
            assert schedule.is_open(outbound[0].created_at)
        else:
            assert conversation.first_response_at is None
            assert "first_response" not in kinds
        if conversation.state == "resolved":
            resolution = kinds["resolved"]
            assert conversation.resolved_at == resolution.created_at
            assert newest.created_at < resolution.created_at <= now
            assert resolution.office_seconds == schedule.office_seconds(
                conversation.opened_at, resolution.created_at
            )
        else:
            assert conversation.resolved_at is None
            assert "resolved" not in kinds


@pytest.mark.django_db
def test_running_again_adds_more_citizens() -> None:
    seed(conversations=10)

    seed(conversations=5)

    assert Citizen.objects.count() == 15
    assert Message.objects.count() == 15 * MESSAGES_EACH
    assert Team.objects.count() == 6
    assert Citizen.objects.order_by("-wa_id").first().wa_id == "4917000000014"


@pytest.mark.django_db
def test_refuses_a_database_with_real_citizens() -> None:
    make_citizen("4915112345678", "Echte Person")

    with pytest.raises(CommandError, match="not seeded"):
        seed()

    assert Citizen.objects.count() == 1
    assert Message.objects.count() == 0
    assert Conversation.objects.count() == 0
