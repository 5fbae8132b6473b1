"""Read-only queries behind the subscriber pages: statistics, search, one citizen's consent.

Every function runs a fixed number of queries however many citizens there are: counts are
aggregated in the database (``values`` + ``annotate``), never by loading rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from townhall.citizens.models import (
    Citizen,
    ConsentRecord,
    Offering,
    Subscription,
    Topic,
)
from townhall.core import clock
from townhall.core.phone_numbers import search_digit_variants

# The chart covers the last 90 days, today included: long enough to see a trend after a
# campaign, short enough that one point per day stays readable.
HISTORY_DAYS = 90
# Fewer digits match too many numbers to be a search for one person.
SEARCH_MIN_DIGITS = 4
# A search is for one person; more matches mean the number typed is too short.
SEARCH_MAX_RESULTS = 20


@dataclass(frozen=True, slots=True)
class OfferingCount:
    offering: str
    label: str
    active: int
    pending: int


@dataclass(frozen=True, slots=True)
class SubscriberCounts:
    """Current subscribers. ``pending_citizens`` wait for their double opt-in confirmation."""

    offerings: list[OfferingCount]
    both: int
    total: int
    pending_citizens: int

    def active(self, offering: str) -> int:
        return next(count.active for count in self.offerings if count.offering == offering)


@dataclass(frozen=True, slots=True)
class TopicCount:
    topic: Topic
    name: str
    subscribers: int


@dataclass(frozen=True, slots=True)
class SubscriberHistory:
    """Subscribers per offering at the end of each day: ``values[offering][i]`` on ``days[i]``."""

    days: list[date]
    values: dict[str, list[int]]


def subscriber_counts() -> SubscriberCounts:
    """Active and pending subscriptions per offering, and citizens with both. One query."""
    active_chat = Subscription.objects.filter(
        citizen=OuterRef("citizen"), offering=Offering.CHAT, state=Subscription.State.ACTIVE
    )
    aggregates: dict[str, Any] = {
        "both": Count(
            "id",
            filter=Q(Exists(active_chat), offering=Offering.INFO, state=Subscription.State.ACTIVE),
        ),
        "total": Count("citizen", distinct=True, filter=Q(state=Subscription.State.ACTIVE)),
        "pending_citizens": Count(
            "citizen", distinct=True, filter=Q(state=Subscription.State.PENDING)
        ),
    }
    for offering in Offering.values:
        for state in (Subscription.State.ACTIVE, Subscription.State.PENDING):
            aggregates[f"{offering}_{state}"] = Count(
                "id", filter=Q(offering=offering, state=state)
            )
    counts = Subscription.objects.aggregate(**aggregates)
    return SubscriberCounts(
        offerings=[
            OfferingCount(
                offering=offering,
                label=str(label),
                active=counts[f"{offering}_{Subscription.State.ACTIVE}"],
                pending=counts[f"{offering}_{Subscription.State.PENDING}"],
            )
            for offering, label in Offering.choices
        ],
        both=counts["both"],
        total=counts["total"],
        pending_citizens=counts["pending_citizens"],
    )


def topic_counts(language: str) -> list[TopicCount]:
    """Subscribers per topic that citizens can choose, in display order. One query.

    A topic counts only for citizens whose info channel subscription is active: the others
    keep their choice for a comeback but receive nothing.
    """
    info_subscribers = Subscription.objects.filter(
        offering=Offering.INFO, state=Subscription.State.ACTIVE
    ).values("citizen_id")
    topics = Topic.objects.filter(is_active=True).annotate(
        subscriber_count=Count(
            "subscriptions",
            filter=Q(
                subscriptions__is_active=True,
                subscriptions__citizen_id__in=info_subscribers,
            ),
        )
    )
    return [
        TopicCount(topic=topic, name=topic.name(language), subscribers=topic.subscriber_count)
        for topic in topics.order_by("position", "id")
    ]


def subscriber_history(today: date | None = None, days: int = HISTORY_DAYS) -> SubscriberHistory:
    """Subscribers per offering at the end of each of the last ``days`` days. Two queries.

    Counted from the consent records (grants minus withdrawals up to each day), so the
    numbers include citizens who have since been erased: their records stay, anonymised.
    Days are calendar days in the city's time zone.
    """
    today = today or clock.today()
    first_day = today - timedelta(days=days - 1)
    zone = timezone.get_current_timezone()
    window_start = datetime.combine(first_day, time.min, tzinfo=zone)
    window_end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=zone)
    changes = ConsentRecord.objects.filter(
        kind__in=[ConsentRecord.Kind.GRANTED, ConsentRecord.Kind.WITHDRAWN],
        offering__in=Offering.values,
    ).order_by()

    running = dict.fromkeys(Offering.values, 0)
    for row in (
        changes.filter(created_at__lt=window_start).values("offering").annotate(net=_net_grants())
    ):
        running[row["offering"]] = row["net"]
    net_by_day: dict[tuple[date, str], int] = {
        (row["day"], row["offering"]): row["net"]
        for row in changes.filter(created_at__gte=window_start, created_at__lt=window_end)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day", "offering")
        .annotate(net=_net_grants())
    }

    day_list = [first_day + timedelta(days=offset) for offset in range(days)]
    values: dict[str, list[int]] = {offering: [] for offering in Offering.values}
    for day in day_list:
        for offering in Offering.values:
            running[offering] += net_by_day.get((day, offering), 0)
            values[offering].append(running[offering])
    return SubscriberHistory(days=day_list, values=values)


def _net_grants() -> Any:
    return Count("id", filter=Q(kind=ConsentRecord.Kind.GRANTED)) - Count(
        "id", filter=Q(kind=ConsentRecord.Kind.WITHDRAWN)
    )


def search_by_number(query: str) -> tuple[list[Citizen], bool]:
    """Citizens whose number contains the digits typed, in +49…, 0049… or 0176… form.

    Returns at most ``SEARCH_MAX_RESULTS`` citizens and whether there were more. Erased
    citizens have no number any more and are never found. Queries shorter than
    ``SEARCH_MIN_DIGITS`` digits find nobody (see ``is_searchable``).
    """
    if not is_searchable(query):
        return [], False
    condition = Q()
    for digits in search_digit_variants(query):
        condition |= Q(wa_id__contains=digits)
    citizens = list(
        Citizen.objects.filter(condition, erased_at__isnull=True).order_by("profile_name", "id")[
            : SEARCH_MAX_RESULTS + 1
        ]
    )
    return citizens[:SEARCH_MAX_RESULTS], len(citizens) > SEARCH_MAX_RESULTS


def is_searchable(query: str) -> bool:
    return sum(character.isdigit() for character in query) >= SEARCH_MIN_DIGITS


@dataclass(frozen=True, slots=True)
class ConsentHistoryRow:
    record: ConsentRecord
    topic_name: str
    acting_user_name: str


def consent_history(citizen: Citizen, language: str) -> list[ConsentHistoryRow]:
    """Every consent record of ``citizen``, oldest first. One query."""
    records = (
        ConsentRecord.objects.filter(citizen=citizen)
        .select_related("topic", "consent_text", "acting_user")
        .order_by("created_at", "id")
    )
    return [
        ConsentHistoryRow(
            record=record,
            topic_name=record.topic.name(language) if record.topic else "",
            acting_user_name=_user_name(record.acting_user),
        )
        for record in records
    ]


def _user_name(user: Any) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()
