"""The numbers of the dashboard, the first page after login. A fixed number of queries
however many citizens, messages and posts there are: everything is aggregated in the
database (``values`` + ``annotate``) and filled up with zeros in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from townhall.channel.models import Post, PostVersion
from townhall.citizens.models import ConsentRecord, Topic
from townhall.core import clock
from townhall.whatsapp.models import Message

# Days of the daily charts (subscribers, topics, messages) and weeks of joins and leaves.
DAYS = 30
WEEKS = 12
# Posts in the delivery and read rates.
LAST_POSTS = 10
DELIVERED = (Message.Status.DELIVERED, Message.Status.READ, Message.Status.PLAYED)
READ = (Message.Status.READ, Message.Status.PLAYED)


@dataclass(frozen=True, slots=True)
class DailySeries:
    """``values[name][i]`` on ``days[i]``."""

    days: list[date]
    values: dict[str, list[int]]


@dataclass(frozen=True, slots=True)
class WeekCounts:
    """Consent grants (joins) and withdrawals (leaves) of the week starting ``monday``."""

    monday: date
    joins: int
    leaves: int


@dataclass(frozen=True, slots=True)
class PostRates:
    post_id: int
    title: str
    published_at: datetime
    audience: int
    delivered: int
    read: int

    @property
    def delivery_rate(self) -> float | None:
        return self.delivered / self.audience if self.audience else None

    @property
    def read_rate(self) -> float | None:
        return self.read / self.audience if self.audience else None


def _bounds(first: date, last: date) -> tuple[datetime, datetime]:
    zone = timezone.get_current_timezone()
    return (
        datetime.combine(first, time.min, tzinfo=zone),
        datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone),
    )


def _days(today: date, days: int) -> list[date]:
    return [today - timedelta(days=days - 1 - offset) for offset in range(days)]


def _net() -> Any:
    return Count("id", filter=Q(kind__in=[ConsentRecord.Kind.TOPIC_ADDED])) - Count(
        "id", filter=Q(kind__in=[ConsentRecord.Kind.TOPIC_REMOVED])
    )


def topic_history(language: str, today: date | None = None, days: int = DAYS) -> DailySeries:
    """Citizens who chose each active topic at the end of each day (from the topic consent
    records: added minus removed). Three queries."""
    today = today or clock.today()
    day_list = _days(today, days)
    start, end = _bounds(day_list[0], today)
    topics = list(Topic.objects.filter(is_active=True).order_by("position", "id"))
    changes = ConsentRecord.objects.filter(
        kind__in=[ConsentRecord.Kind.TOPIC_ADDED, ConsentRecord.Kind.TOPIC_REMOVED],
        topic__in=topics,
    ).order_by()
    running = {topic.pk: 0 for topic in topics}
    for row in changes.filter(created_at__lt=start).values("topic_id").annotate(net=_net()):
        running[row["topic_id"]] = row["net"]
    per_day = {
        (row["day"], row["topic_id"]): row["net"]
        for row in changes.filter(created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "topic_id")
        .annotate(net=_net())
    }
    values: dict[str, list[int]] = {topic.name(language): [] for topic in topics}
    for day in day_list:
        for topic in topics:
            running[topic.pk] += per_day.get((day, topic.pk), 0)
            values[topic.name(language)].append(running[topic.pk])
    return DailySeries(days=day_list, values=values)


def joins_and_leaves(today: date | None = None, weeks: int = WEEKS) -> list[WeekCounts]:
    """Consent grants and withdrawals (any offering) per calendar week, oldest first, the
    current week included. One query."""
    today = today or clock.today()
    this_monday = today - timedelta(days=today.weekday())
    mondays = [this_monday - timedelta(weeks=weeks - 1 - offset) for offset in range(weeks)]
    start, end = _bounds(mondays[0], today)
    per_day = (
        ConsentRecord.objects.filter(
            kind__in=[ConsentRecord.Kind.GRANTED, ConsentRecord.Kind.WITHDRAWN],
            created_at__gte=start,
            created_at__lt=end,
        )
        .order_by()
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(
            joins=Count("id", filter=Q(kind=ConsentRecord.Kind.GRANTED)),
            leaves=Count("id", filter=Q(kind=ConsentRecord.Kind.WITHDRAWN)),
        )
    )
    joins = dict.fromkeys(mondays, 0)
    leaves = dict.fromkeys(mondays, 0)
    for row in per_day:
        monday = row["day"] - timedelta(days=row["day"].weekday())
        joins[monday] += row["joins"]
        leaves[monday] += row["leaves"]
    return [WeekCounts(monday, joins[monday], leaves[monday]) for monday in mondays]


def messages_per_day(today: date | None = None, days: int = DAYS) -> DailySeries:
    """Messages received from and sent to citizens per day (``in``/``out``). One query.

    Outbound counts what was handed to WhatsApp (accepted or further), not what waits or
    was refused."""
    today = today or clock.today()
    day_list = _days(today, days)
    start, end = _bounds(day_list[0], today)
    not_sent = [
        Message.Status.QUEUED,
        Message.Status.HELD,
        Message.Status.SENDING,
        Message.Status.CANCELLED,
    ]
    rows = (
        Message.objects.filter(created_at__gte=start, created_at__lt=end)
        .exclude(direction=Message.Direction.OUTBOUND, status__in=not_sent)
        .order_by()
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(
            inbound=Count("id", filter=Q(direction=Message.Direction.INBOUND)),
            outbound=Count("id", filter=Q(direction=Message.Direction.OUTBOUND)),
        )
    )
    per_day: dict[date, Any] = {row["day"]: row for row in rows}
    return DailySeries(
        days=day_list,
        values={
            "in": [per_day.get(day, {}).get("inbound", 0) for day in day_list],
            "out": [per_day.get(day, {}).get("outbound", 0) for day in day_list],
        },
    )


def last_post_rates(limit: int = LAST_POSTS) -> list[PostRates]:
    """Delivery and read rates of the last published posts, newest first. One query."""
    title = PostVersion.objects.filter(post=OuterRef("pk")).order_by("id").values("title")[:1]
    posts = (
        Post.objects.filter(published_at__isnull=False)
        .order_by("-published_at", "-id")
        .annotate(
            title_text=Subquery(title),
            audience=Count("deliveries"),
            delivered=Count("deliveries", filter=Q(deliveries__message__status__in=DELIVERED)),
            read=Count("deliveries", filter=Q(deliveries__message__status__in=READ)),
        )
        .values("pk", "title_text", "published_at", "audience", "delivered", "read")[:limit]
    )
    return [
        PostRates(
            post_id=row["pk"],
            title=row["title_text"] or "",
            published_at=row["published_at"] or clock.now(),
            audience=row["audience"],
            delivered=row["delivered"],
            read=row["read"],
        )
        for row in posts
    ]
