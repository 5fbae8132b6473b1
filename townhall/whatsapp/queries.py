"""Read-side queries of the message log."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, QuerySet, Subquery

from townhall.whatsapp.models import Message, MessageReaction, MessageStatusEvent

# Reactions are shown on the message they belong to, never as messages of their own.
REACTION_TYPE = "reaction"


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    message: Message
    status_history: tuple[MessageStatusEvent, ...]
    # The current reactions on this message (the citizen's and the city's), without removed ones.
    reactions: tuple[MessageReaction, ...] = ()


def message_log_for(wa_id: str, *, limit: int | None = None) -> list[LoggedMessage]:
    """One citizen's messages in both directions, oldest first, each with its status history
    and its reactions (reactions themselves are not listed as messages).

    Three queries whatever the number of messages.
    """
    messages = (
        Message.objects.filter(wa_id=wa_id)
        .exclude(type=REACTION_TYPE)
        .order_by("-created_at", "-id")
    )
    if limit is not None:
        messages = messages[:limit]
    rows = list(reversed(list(messages)))
    provider_ids = [m.provider_id for m in rows if m.provider_id and m.direction == "out"]
    history: dict[str, list[MessageStatusEvent]] = defaultdict(list)
    if provider_ids:
        for event in MessageStatusEvent.objects.filter(provider_message_id__in=provider_ids):
            history[event.provider_message_id].append(event)
    reactions = reactions_by_message(wa_id, [m.provider_id for m in rows if m.provider_id])
    return [
        LoggedMessage(
            message=m,
            status_history=tuple(history.get(m.provider_id or "", ())),
            reactions=tuple(reactions.get(m.provider_id or "", ())),
        )
        for m in rows
    ]


def reactions_by_message(wa_id: str, provider_ids: list[str]) -> dict[str, list[MessageReaction]]:
    """The current (not removed) reactions in ``wa_id``'s chat on the given messages, the
    citizen's first; one query."""
    found: dict[str, list[MessageReaction]] = defaultdict(list)
    if not provider_ids:
        return found
    for reaction in (
        MessageReaction.objects.filter(wa_id=wa_id, message_provider_id__in=provider_ids)
        .exclude(emoji="")
        .order_by("from_business", "reacted_at")
    ):
        found[reaction.message_provider_id].append(reaction)
    return found


def outbound_provider_ids(wa_id: str) -> QuerySet[Message, Any]:
    """The WhatsApp ids of what we sent to ``wa_id`` (status events refer to these)."""
    return Message.objects.filter(
        wa_id=wa_id, direction=Message.Direction.OUTBOUND, provider_id__isnull=False
    ).values("provider_id")


def message_history_version(wa_id: str) -> str:
    """A short token that changes whenever the messages with ``wa_id`` would render differently.

    Lets pages poll cheaply: the client sends the token it shows and gets "no change"
    until a message arrives, is sent, or its status moves.
    """
    messages = Message.objects.filter(wa_id=wa_id).aggregate(
        count=Count("id"), last_id=Max("id"), last_status_at=Max("status_updated_at")
    )
    events = MessageStatusEvent.objects.filter(
        provider_message_id__in=Subquery(outbound_provider_ids(wa_id))
    ).aggregate(count=Count("id"), last_id=Max("id"))
    state = (
        f"{messages['count']}:{messages['last_id']}:{messages['last_status_at']}:"
        f"{events['count']}:{events['last_id']}"
    )
    return hashlib.sha256(state.encode()).hexdigest()[:16]
