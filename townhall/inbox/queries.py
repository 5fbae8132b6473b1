"""Read-side queries of the inbox pages: the conversation list, its counts, one conversation's
history and the tokens the pages poll with.

Every function here runs a fixed number of queries however many conversations, messages or
notes there are: lists use ``select_related``/``prefetch_related`` and subqueries, never a
query per row.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import (
    Count,
    Exists,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.utils.translation import get_language

from townhall.citizens.bot_exchanges import BotExchange, group_bot_exchanges
from townhall.citizens.models import Citizen
from townhall.citizens.permissions import may_search_by_number
from townhall.citizens.queries import CitizenSubscriptions, citizen_subscriptions
from townhall.core.phone_numbers import search_digit_variants
from townhall.core.search_indexes import estimated_rows
from townhall.inbox.access import InboxUser, assignable_users
from townhall.inbox.models import CannedResponse, Conversation, Label, Note, Team
from townhall.whatsapp.errors import OutsideServiceWindow
from townhall.whatsapp.models import Message
from townhall.whatsapp.queries import LoggedMessage, message_history_version, message_log_for
from townhall.whatsapp.service_window import is_within_service_window

# 25 rows fill a tablet screen twice over (shared inboxes such as Chatwoot load 25 at a time)
# and keep the page well under 50 ms at city scale: rendering is linear in this number.
INBOX_PAGE_SIZE = 25
# The conversation page shows the latest messages; older ones stay in the message log.
# Rendering is linear in this number, and the page re-renders it on every change.
HISTORY_LIMIT = 300
SEARCH_MAX_CHARS = 100
# Trigram indexes need three characters; shorter searches walk the conversations instead.
SEARCH_INDEX_MIN_CHARS = 3
# Up to this many matches (of names, or of messages), a search collects them first.
SEARCH_MATCH_CAP = 2000


class InboxView(enum.StrEnum):
    """Whose conversations the list shows."""

    MINE = "mine"
    UNASSIGNED = "unassigned"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class ListFilters:
    """What the conversation list shows. ``state`` empty means every state but resolved."""

    view: InboxView = InboxView.ALL
    team_id: int | None = None
    label_id: int | None = None
    state: str = ""
    search: str = ""

    def params(self) -> dict[str, str]:
        """The filters as query parameters, defaults left out (for links and polls)."""
        params = {
            "view": self.view.value if self.view != InboxView.ALL else "",
            "team": str(self.team_id or ""),
            "label": str(self.label_id or ""),
            "state": self.state,
            "q": self.search,
        }
        return {key: value for key, value in params.items() if value}

    def replace(self, **changes: Any) -> ListFilters:
        return dataclasses.replace(self, **changes)

    @property
    def is_filtered(self) -> bool:
        """Whether anything beyond the default view narrows the list."""
        return bool(self.team_id or self.label_id or self.state or self.search)


def _view_condition(user: InboxUser, view: InboxView) -> Q:
    if view == InboxView.MINE:
        return Q(assignee_id=user.pk)
    if view == InboxView.UNASSIGNED:
        return Q(assignee__isnull=True)
    return Q()


def conversations(user: InboxUser, filters: ListFilters) -> QuerySet[Conversation]:
    """The conversations ``filters`` select, newest activity first (no related rows loaded).

    The default (no state) reads only the unresolved conversations, which partial indexes
    cover; see ``Conversation.Meta.indexes``.
    """
    queryset = Conversation.objects.filter(_view_condition(user, filters.view))
    if filters.team_id:
        queryset = queryset.filter(team_id=filters.team_id)
    if filters.label_id:
        # One label per filter: the join cannot duplicate rows (one link per label).
        queryset = queryset.filter(labels__id=filters.label_id)
    if filters.state:
        queryset = queryset.filter(state=filters.state)
    else:
        queryset = queryset.exclude(state=Conversation.State.RESOLVED)
    if filters.search:
        condition = _search_condition(filters.search)
        if may_search_by_number(user):
            for digits in search_digit_variants(filters.search):
                condition |= Q(citizen__wa_id__contains=digits)
        queryset = queryset.filter(condition)
    return queryset.order_by("-last_message_at", "-id")


def _search_condition(search: str) -> Q:
    """Conversations whose citizen's name or any message contains ``search`` (never the
    number: only users with ``citizens.search_by_number`` search that, see ``conversations``).

    Each half (names, messages) has two plans, because no single one is fast for both rare
    and common words. Rare (PostgreSQL estimates at most ``SEARCH_MATCH_CAP`` matches, and
    trigram indexes find them): the matching citizens are collected first and the list
    filters on their ids. Common: the list walks the conversations newest first and checks
    each one, which fills a page after a few rows because matches are dense.
    """
    named = Citizen.objects.filter(profile_name__icontains=search).order_by()
    by_name = _collect(named.values_list("pk", flat=True), search)
    name_condition = (
        Q(citizen__profile_name__icontains=search) if by_name is None else Q(citizen_id__in=by_name)
    )
    messages = Message.objects.filter(text__icontains=search).order_by()
    writers = _collect(messages.values_list("wa_id", flat=True), search)
    if writers is None:
        # EXISTS stops at the first matching message of each conversation.
        message_condition = Q(Exists(_matching_messages_of_row(search)))
    else:
        message_condition = Q(
            citizen_id__in=set(
                Citizen.objects.filter(wa_id__in=writers).values_list("pk", flat=True)
            )
        )
    return name_condition | message_condition


def _matching_messages_of_row(search: str) -> QuerySet[Message]:
    """The messages containing ``search`` of the conversation row an outer query is on."""
    return Message.objects.filter(wa_id=OuterRef("citizen__wa_id"), text__icontains=search)


def _collect(values: QuerySet[Any], search: str) -> set[Any] | None:
    """Every value of ``values`` if there are at most ``SEARCH_MATCH_CAP`` (one query, two
    on PostgreSQL: the estimate first); None when there are more."""
    if len(search) < SEARCH_INDEX_MIN_CHARS:
        return None
    estimate = estimated_rows(values)
    if estimate is not None and estimate > SEARCH_MATCH_CAP:
        return None
    found = list(values[: SEARCH_MATCH_CAP + 1])
    return set(found) if len(found) <= SEARCH_MATCH_CAP else None


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of the conversation list.

    ``total`` is None for searches: an exact count would have to look at every
    conversation, so a search page only knows whether another one follows.
    """

    object_list: list[Conversation]
    number: int
    total: int | None
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def num_pages(self) -> int | None:
        return None if self.total is None else _page_count(self.total)

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def is_paginated(self) -> bool:
        return self.has_next or self.has_previous


def _page_count(total: int) -> int:
    return max(1, -(-total // INBOX_PAGE_SIZE))  # ceiling division; an empty list is a page


def conversations_page(user: InboxUser, filters: ListFilters, page_number: int) -> ListPage:
    """One page of ``conversations()`` with citizen, assignee, team and labels: three queries
    (count, rows, labels; a search skips the count, and gives each row ``search_match``, the
    text of the citizen's newest matching message). A page past the end shows the last."""
    queryset = conversations(user, filters)
    total = None if filters.search else queryset.count()
    number = max(page_number, 1)
    if total is not None:
        number = min(number, _page_count(total))
    offset = (number - 1) * INBOX_PAGE_SIZE
    queryset = queryset.select_related("citizen", "assignee", "team").prefetch_related("labels")
    if filters.search:
        # The newest message that matches, shown instead of the last message's preview.
        queryset = queryset.annotate(
            search_match=Subquery(
                _matching_messages_of_row(filters.search).order_by("-created_at").values("text")[:1]
            )
        )
    rows = list(queryset[offset : offset + INBOX_PAGE_SIZE + 1])
    return ListPage(
        object_list=rows[:INBOX_PAGE_SIZE],
        number=number,
        total=total,
        has_next=len(rows) > INBOX_PAGE_SIZE,
    )


def list_version(page: ListPage, unread: int) -> str:
    """A short token that changes whenever ``page`` would render differently: its rows'
    activity, unread counts, states, priorities, owners and labels, the total, and the
    inbox-wide unread count (so the sidebar and badge follow changes elsewhere).

    Computed from the rows that are rendered, so a change after reading them always
    shows up in the next poll; no query of its own.
    """
    rows = [
        (
            c.pk,
            c.last_message_at,
            c.last_message_preview,
            c.unread_count,
            c.state,
            c.priority,
            c.assignee_id,
            c.team_id,
            c.is_unsubscribed,
            c.citizen.profile_name,
            sorted(label.pk for label in c.labels.all()),
        )
        for c in page.object_list
    ]
    state = repr((rows, page.number, page.total, page.has_next, unread))
    return hashlib.sha256(state.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class StateCount:
    state: str
    label: str
    # None for resolved: counting every conversation ever closed is costly and of little use.
    count: int | None


@dataclass(frozen=True, slots=True)
class SidebarCounts:
    """Not-resolved conversations per view, and conversations per state within one view."""

    mine: int
    unassigned: int
    all: int
    states: list[StateCount]

    @property
    def not_resolved_in_view(self) -> int:
        return sum(s.count or 0 for s in self.states if s.state != Conversation.State.RESOLVED)


def sidebar_counts(user: InboxUser, view: InboxView) -> SidebarCounts:
    """The sidebar's numbers in one aggregate query over the unresolved conversations."""
    within_view = _view_condition(user, view)
    active_states = [s for s in Conversation.State.values if s != Conversation.State.RESOLVED]
    counts = Conversation.objects.exclude(state=Conversation.State.RESOLVED).aggregate(
        mine=Count("id", filter=Q(assignee_id=user.pk)),
        unassigned=Count("id", filter=Q(assignee__isnull=True)),
        all=Count("id"),
        **{
            f"state_{state}": Count("id", filter=within_view & Q(state=state))
            for state in active_states
        },
    )
    return SidebarCounts(
        mine=counts["mine"],
        unassigned=counts["unassigned"],
        all=counts["all"],
        states=[
            StateCount(state=state, label=str(label), count=counts.get(f"state_{state}"))
            for state, label in Conversation.State.choices
        ],
    )


def unread_total() -> int:
    """Unread citizen messages in all conversations (the navigation badge): one query that
    reads only the conversations with something unread (a partial index)."""
    return (
        Conversation.objects.filter(unread_count__gt=0).aggregate(total=Sum("unread_count"))[
            "total"
        ]
        or 0
    )


@dataclass(frozen=True, slots=True)
class ListChoices:
    teams: list[Team]
    labels: list[Label]


def list_choices() -> ListChoices:
    return ListChoices(teams=list(Team.objects.all()), labels=list(Label.objects.all()))


# --- one conversation ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """A message or an internal note, in the order they happened.

    ``offers_template``: this is the last message we sent, and WhatsApp refused it because the
    24-hour window had closed; the page offers the re-engagement template next to it.
    """

    at: datetime
    logged: LoggedMessage | None = None
    note: Note | None = None
    offers_template: bool = False

    @property
    def message(self) -> Message | None:
        return self.logged.message if self.logged else None


@dataclass(frozen=True, slots=True)
class ConversationHistory:
    items: list[HistoryItem | BotExchange[HistoryItem]]
    # Older messages exist than the page shows (see HISTORY_LIMIT).
    is_truncated: bool


def conversation_history(conversation: Conversation) -> ConversationHistory:
    """Messages (with status histories) and notes of ``conversation``: three queries."""
    log = message_log_for(conversation.citizen.wa_id, limit=HISTORY_LIMIT + 1)
    is_truncated = len(log) > HISTORY_LIMIT
    if is_truncated:
        log = log[1:]
    notes = conversation.notes.select_related("author")
    if is_truncated:
        notes = notes.filter(created_at__gte=log[0].message.created_at)

    last_outbound = next(
        (entry.message for entry in reversed(log) if entry.message.direction == "out"), None
    )
    template_offer_for = (
        last_outbound.pk
        if last_outbound is not None and isinstance(last_outbound.error, OutsideServiceWindow)
        else None
    )
    items = [
        HistoryItem(
            at=entry.message.created_at,
            logged=entry,
            offers_template=entry.message.pk == template_offer_for,
        )
        for entry in log
    ]
    items.extend(HistoryItem(at=note.created_at, note=note) for note in notes)
    # A stable sort: at the same instant the message stays before the note about it.
    items.sort(key=lambda item: item.at)
    return ConversationHistory(
        items=group_bot_exchanges(items, lambda item: item.message), is_truncated=is_truncated
    )


def history_version(conversation: Conversation) -> str:
    """A short token that changes whenever the conversation page's history would render
    differently: messages, their statuses, notes, or the 24-hour window opening or closing.

    Three queries; ``conversation`` must be freshly loaded (its ``last_inbound_at``).
    """
    notes = conversation.notes.aggregate(count=Count("id"), last_id=Max("id"))
    state = (
        f"{message_history_version(conversation.citizen.wa_id)}:{notes['count']}:{notes['last_id']}:"
        f"{is_within_service_window(conversation.last_inbound_at)}"
    )
    return hashlib.sha256(state.encode()).hexdigest()[:16]


def reengagement_sent_at(conversation: Conversation) -> datetime | None:
    """When we last sent a template since the citizen's last message; None if not yet.

    One query; for the composer while the 24-hour window is closed.
    """
    templates = Message.objects.filter(
        wa_id=conversation.citizen.wa_id, direction=Message.Direction.OUTBOUND, type="template"
    )
    if conversation.last_inbound_at is not None:
        templates = templates.filter(created_at__gt=conversation.last_inbound_at)
    return templates.order_by("-created_at").values_list("created_at", flat=True).first()


@dataclass(frozen=True, slots=True)
class PanelChoices:
    """What the side panel offers to choose from."""

    users: list[Any]
    teams: list[Team]
    labels: list[Label]
    selected_label_ids: frozenset[int]
    # What the citizen receives now: staff see at a glance whether a reply can reach them
    # and which topics they care about.
    subscriptions: CitizenSubscriptions


def panel_choices(conversation: Conversation) -> PanelChoices:
    """Six queries, whatever the number of users, teams or labels."""
    return PanelChoices(
        users=list(assignable_users()),
        teams=list(Team.objects.all()),
        labels=list(Label.objects.all()),
        selected_label_ids=frozenset(conversation.labels.values_list("id", flat=True)),
        subscriptions=citizen_subscriptions(conversation.citizen, get_language() or "de"),
    )


def canned_responses() -> list[CannedResponse]:
    return list(CannedResponse.objects.all())


def citizen_conversation_export(citizen: Citizen) -> dict[str, Any]:
    """The inbox's part of a citizen's data export (``CITIZEN_EXPORT_HANDLERS``): the state of
    their conversation and the staff's notes about them (DSGVO Art. 15 covers internal
    notes too). Two queries."""
    conversation = (
        Conversation.objects.filter(citizen=citizen).prefetch_related("labels", "notes").first()
    )
    if conversation is None:
        return {"conversation": None}

    def iso(value: datetime | None) -> str | None:
        return value.astimezone(UTC).isoformat() if value is not None else None

    return {
        "conversation": {
            "state": conversation.state,
            "priority": conversation.priority,
            "is_unsubscribed": conversation.is_unsubscribed,
            "labels": sorted(label.name for label in conversation.labels.all()),
            "last_message_preview": conversation.last_message_preview,
            "last_message_at": iso(conversation.last_message_at),
            "opened_at": iso(conversation.opened_at),
            "resolved_at": iso(conversation.resolved_at),
            "notes": [
                {"text": note.text, "created_at": iso(note.created_at)}
                for note in conversation.notes.all()
            ],
        }
    }
