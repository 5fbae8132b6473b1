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
from datetime import datetime
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Window,
)

from townhall.inbox.access import InboxUser, assignable_users
from townhall.inbox.actions import is_within_service_window
from townhall.inbox.models import CannedResponse, Conversation, Label, Note, Team
from townhall.staff.conversations import history_version as message_history_version
from townhall.whatsapp.errors import OutsideServiceWindow
from townhall.whatsapp.models import Message
from townhall.whatsapp.queries import LoggedMessage, message_log_for

# 50 rows fill a screen or two and cost one indexed query plus one for all their labels.
INBOX_PAGE_SIZE = 50
# The conversation page shows the latest messages; older ones stay in the message log.
# Rendering is linear in this number, and the page re-renders it on every change.
HISTORY_LIMIT = 300
SEARCH_MAX_CHARS = 100


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
    """The conversations ``filters`` select, newest activity first (no related rows loaded)."""
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
        # The message log is joined on wa_id; EXISTS stops at the first matching message.
        matching_messages = Message.objects.filter(
            wa_id=OuterRef("citizen__wa_id"), text__icontains=filters.search
        )
        queryset = queryset.filter(
            Q(citizen__profile_name__icontains=filters.search) | Q(Exists(matching_messages))
        )
    return queryset.order_by("-last_message_at", "-id")


def conversations_page(
    user: InboxUser, filters: ListFilters, page_number: str | int | None
) -> Page[Conversation]:
    """One page of ``conversations()`` with citizen, assignee, team and labels: four queries
    (count, rows, labels, and nothing per row)."""
    rows = (
        conversations(user, filters)
        .select_related("citizen", "assignee", "team")
        .prefetch_related("labels")
    )
    paginator: Paginator[Conversation] = Paginator(rows, INBOX_PAGE_SIZE)
    return paginator.get_page(page_number)


def list_version(user: InboxUser, filters: ListFilters, page_number: int) -> str:
    """A short token that changes whenever the given list page would render differently.

    One query over the page's rows and the total: new messages, unread counts, states,
    priorities, assignments, labels, and conversations entering or leaving the filter.
    """
    # Sum of squared label ids: changes when a label is added, removed or swapped.
    label_key = Subquery(
        Label.objects.filter(conversations=OuterRef("pk"))
        .order_by()
        .values("conversations")
        .annotate(key=Sum(F("id") * F("id") + 1))
        .values("key")[:1],
        output_field=IntegerField(),
    )
    offset = (max(page_number, 1) - 1) * INBOX_PAGE_SIZE
    rows = list(
        conversations(user, filters)
        .annotate(total=Window(Count("id")), label_key=label_key)
        .values_list(
            "id",
            "last_message_at",
            "unread_count",
            "state",
            "priority",
            "assignee_id",
            "team_id",
            "is_unsubscribed",
            "label_key",
            "total",
        )[offset : offset + INBOX_PAGE_SIZE]
    )
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class StateCount:
    state: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class SidebarCounts:
    """Not-resolved conversations per view, and conversations per state within one view."""

    mine: int
    unassigned: int
    all: int
    states: list[StateCount]

    @property
    def not_resolved_in_view(self) -> int:
        return sum(s.count for s in self.states if s.state != Conversation.State.RESOLVED)


def sidebar_counts(user: InboxUser, view: InboxView) -> SidebarCounts:
    """The sidebar's numbers in one aggregate query."""
    active = ~Q(state=Conversation.State.RESOLVED)
    within_view = _view_condition(user, view)
    counts = Conversation.objects.aggregate(
        mine=Count("id", filter=active & Q(assignee_id=user.pk)),
        unassigned=Count("id", filter=active & Q(assignee__isnull=True)),
        all=Count("id", filter=active),
        **{
            f"state_{state}": Count("id", filter=within_view & Q(state=state))
            for state in Conversation.State.values
        },
    )
    return SidebarCounts(
        mine=counts["mine"],
        unassigned=counts["unassigned"],
        all=counts["all"],
        states=[
            StateCount(state=state, label=str(label), count=counts[f"state_{state}"])
            for state, label in Conversation.State.choices
        ],
    )


def unread_total() -> int:
    """Unread citizen messages in all conversations (the navigation badge): one query."""
    return Conversation.objects.aggregate(total=Sum("unread_count"))["total"] or 0


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
    items: list[HistoryItem]
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
    return ConversationHistory(items=items, is_truncated=is_truncated)


def history_version(conversation: Conversation) -> str:
    """A short token that changes whenever the conversation page's history would render
    differently: messages, their statuses, notes, or the 24-hour window opening or closing.

    Three queries; ``conversation`` must be freshly loaded (its ``last_inbound_at``).
    """
    notes = conversation.notes.aggregate(count=Count("id"), last_id=Max("id"))
    state = (
        f"{message_history_version(conversation.citizen)}:{notes['count']}:{notes['last_id']}:"
        f"{is_within_service_window(conversation)}"
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


def panel_choices(conversation: Conversation) -> PanelChoices:
    """Four queries, whatever the number of users, teams or labels."""
    return PanelChoices(
        users=list(assignable_users()),
        teams=list(Team.objects.all()),
        labels=list(Label.objects.all()),
        selected_label_ids=frozenset(conversation.labels.values_list("id", flat=True)),
    )


def canned_responses() -> list[CannedResponse]:
    return list(CannedResponse.objects.all())
