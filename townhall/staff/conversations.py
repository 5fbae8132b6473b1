"""Read-only queries behind the message log pages.

Every function here runs a fixed number of queries, however many citizens or messages
there are: lists are built with subqueries and one batched fetch, never a query per row.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from townhall.citizens.bot_exchanges import BotExchange, group_bot_exchanges
from townhall.citizens.models import Citizen
from townhall.core.phone_numbers import search_digit_variants
from townhall.inbox.models import Conversation
from townhall.whatsapp.models import Message, MessageReaction, MessageStatusEvent
from townhall.whatsapp.queries import (
    REACTION_TYPE,
    message_history_version,
    outbound_provider_ids,
    reactions_by_message,
)

# 50 rows are easy to scan; each row costs five index lookups (subqueries) in one query.
MESSAGE_LOG_PAGE_SIZE = 50
# Free-form messages reach a citizen only within 24 hours of their last message.


@dataclass(frozen=True, slots=True)
class StatusStep:
    """One entry of an outbound message's status history."""

    status: str
    at: datetime
    errors: tuple[dict, ...] = ()


@dataclass(slots=True)
class ConversationRow:
    """One citizen in the message log with their latest messages."""

    citizen: Citizen
    inbound_count: int
    outbound_count: int
    last_message: Message | None = None
    last_outbound: Message | None = None


@dataclass(slots=True)
class HistoryEntry:
    """One message of a citizen's history.

    ``status_steps`` only for outbound messages; ``refers_to`` is the message this one
    replies or reacts to, when it is part of the same history.
    """

    message: Message
    status_steps: list[StatusStep] = field(default_factory=list)
    refers_to: Message | None = None
    # Shown as emoji badges on the bubble; reactions are no entries of their own.
    reactions: list[MessageReaction] = field(default_factory=list)

    @property
    def at(self) -> datetime:
        return self.message.created_at


def _count(messages: QuerySet[Message]) -> Coalesce:
    counts = messages.order_by().values("wa_id").annotate(total=Count("id")).values("total")
    return Coalesce(Subquery(counts[:1], output_field=IntegerField()), 0)


def _search_filter(search: str, *, by_number: bool) -> Q:
    condition = Q(profile_name__icontains=search)
    if by_number:
        for digits in search_digit_variants(search):
            condition |= Q(wa_id__contains=digits)
    return condition


def conversations(search: str = "", *, by_number: bool = False) -> QuerySet[Citizen]:
    """Citizens who have messages, most recent conversation first, optionally searched.

    ``search`` matches part of the profile name, and with ``by_number`` (only for users with
    ``citizens.search_by_number``) digits of the number, typed in international or German
    national format.
    """
    messages = Message.objects.filter(wa_id=OuterRef("wa_id"))
    latest = messages.order_by("-created_at", "-id")
    citizens = Citizen.objects.annotate(
        last_message_at=Subquery(latest.values("created_at")[:1]),
        last_message_id=Subquery(latest.values("id")[:1]),
        last_outbound_id=Subquery(
            latest.filter(direction=Message.Direction.OUTBOUND).values("id")[:1]
        ),
        inbound_count=_count(messages.filter(direction=Message.Direction.INBOUND)),
        outbound_count=_count(messages.filter(direction=Message.Direction.OUTBOUND)),
    ).filter(last_message_at__isnull=False)
    search = search.strip()
    if search:
        citizens = citizens.filter(_search_filter(search, by_number=by_number))
    return citizens.order_by("-last_message_at", "-id")


def conversations_page(
    search: str, page_number: str | int | None, *, by_number: bool = False
) -> Page[ConversationRow]:
    """One page of ``conversations(search, by_number=…)`` as ``ConversationRow`` objects."""
    paginator: Paginator[Any] = Paginator(
        conversations(search, by_number=by_number), MESSAGE_LOG_PAGE_SIZE
    )
    page = paginator.get_page(page_number)
    # Citizens carry the annotations of conversations().
    citizens: list[Any] = list(page.object_list)
    message_ids = {
        message_id
        for citizen in citizens
        for message_id in (citizen.last_message_id, citizen.last_outbound_id)
        if message_id is not None
    }
    messages = Message.objects.in_bulk(message_ids) if message_ids else {}
    rows = [
        ConversationRow(
            citizen=citizen,
            inbound_count=citizen.inbound_count,
            outbound_count=citizen.outbound_count,
            last_message=messages.get(citizen.last_message_id),
            last_outbound=messages.get(citizen.last_outbound_id),
        )
        for citizen in citizens
    ]
    return Page(rows, page.number, paginator)


def history_version(citizen: Citizen) -> str:
    """A short token that changes whenever the citizen's message log would render differently."""
    return message_history_version(citizen.wa_id)


def citizen_history(citizen: Citizen) -> list[HistoryEntry | BotExchange[HistoryEntry]]:
    """All messages with ``citizen`` in the order they were written, with status histories
    and the reactions on each (four queries); talks with the bot (START, HILFE … and its
    answers) folded into one ``BotExchange``."""
    messages = list(Message.objects.filter(wa_id=citizen.wa_id).order_by("created_at", "id"))
    shown = {m.provider_id for m in messages if m.provider_id and m.type != REACTION_TYPE}
    # A reaction shows as a badge on its message; only one whose message is not in this
    # history (never ours, or erased) stays a bubble of its own, so nothing is hidden.
    messages = [
        m for m in messages if m.type != REACTION_TYPE or _referred_provider_id(m) not in shown
    ]
    reactions = reactions_by_message(
        citizen.wa_id, [message.provider_id for message in messages if message.provider_id]
    )
    events_by_provider_id: dict[str, list[MessageStatusEvent]] = defaultdict(list)
    for event in MessageStatusEvent.objects.filter(
        provider_message_id__in=Subquery(outbound_provider_ids(citizen.wa_id))
    ).order_by("occurred_at", "id"):
        events_by_provider_id[event.provider_message_id].append(event)

    by_provider_id = {message.provider_id: message for message in messages if message.provider_id}
    history = []
    for message in messages:
        entry = HistoryEntry(
            message=message,
            refers_to=by_provider_id.get(_referred_provider_id(message)),
            reactions=reactions.get(message.provider_id or "", []),
        )
        if message.direction == Message.Direction.OUTBOUND:
            entry.status_steps.append(StatusStep(Message.Status.QUEUED, message.created_at))
            entry.status_steps.extend(
                StatusStep(event.status, event.occurred_at, tuple(event.errors or ()))
                for event in events_by_provider_id.get(message.provider_id or "", ())
            )
        history.append(entry)
    return group_bot_exchanges(history, lambda entry: entry.message)


def _referred_provider_id(message: Message) -> str:
    if message.type == "reaction":
        reaction = message.payload.get("reaction") if isinstance(message.payload, dict) else None
        if isinstance(reaction, dict):
            return str(reaction.get("message_id") or "")
    return message.context_provider_id


def conversation_id(citizen: Citizen) -> int | None:
    """The id of the citizen's inbox conversation, where replies are written; None if the
    citizen never wrote to the mayor's office."""
    return Conversation.objects.filter(citizen=citizen).values_list("pk", flat=True).first()
