"""What a post achieved: the per-post report and the table that compares posts.

Every number is an aggregate over the post's deliveries and what hangs on their messages;
the number of queries is fixed, whatever the audience (no query per delivery or per post).

- Reactions: the citizens' current reactions (``whatsapp.MessageReaction``) on the post's
  messages, joined by WhatsApp message id; removed ones do not count.
- Link opens: ``PostLinkOpen`` counters (per post and day, no personal data).
- Sign-ups: consents given after "START <the post's referral code>" (``ConsentRecord``).
- Unsubscribes: recipients who left the info channel within 24 hours after the post was
  queued for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, TruncDay, TruncHour, TruncMinute
from django.utils import timezone

from townhall.channel.models import Post, PostDelivery, PostLinkOpen
from townhall.channel.progress import PostProgress, post_progress
from townhall.citizens.models import ConsentRecord, Offering
from townhall.whatsapp.models import Message, MessageReaction, MessageStatusEvent

# Unsubscribes this long after the post count as the post's.
UNSUBSCRIBE_WINDOW = timedelta(hours=24)
# At most this many points on the chart's time axis (the bucket grows with the time span).
MAX_CHART_POINTS = 48
# The compare table shows the latest posts that went out.
COMPARE_LIMIT = 200
REACHED_STATUSES = (Message.Status.DELIVERED, Message.Status.READ, Message.Status.PLAYED)
READ_STATUSES = (Message.Status.READ, Message.Status.PLAYED)


@dataclass(frozen=True)
class Timeline:
    """Cumulative deliveries and reads at the end of each time bucket."""

    at: list[datetime] = field(default_factory=list)
    delivered: list[int] = field(default_factory=list)
    read: list[int] = field(default_factory=list)
    # "minute", "hour" or "day"
    bucket: str = "minute"


@dataclass(frozen=True)
class PostReport:
    post: Post
    progress: PostProgress
    # (emoji, count), most frequent first
    reactions: list[tuple[str, int]]
    link_opens: int
    signups: int
    unsubscribes: int
    timeline: Timeline

    @property
    def reactions_total(self) -> int:
        return sum(count for _emoji, count in self.reactions)

    @property
    def read_rate(self) -> float | None:
        """Read of those handed over to WhatsApp (percent)."""
        return _rate(self.progress.read, self.progress.handed_over)


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _post_messages(post: Post | Any) -> QuerySet[Message]:
    return Message.objects.filter(post_delivery__post=post)


def _citizen_reactions() -> QuerySet[MessageReaction]:
    return MessageReaction.objects.filter(from_business=False).exclude(emoji="")


def _unsubscribed_soon_after() -> Exists:
    """For a delivery row: its citizen left the info channel within the window after it."""
    return Exists(
        ConsentRecord.objects.filter(
            citizen=OuterRef("citizen"),
            kind=ConsentRecord.Kind.WITHDRAWN,
            offering=Offering.INFO,
            created_at__gte=OuterRef("created_at"),
            created_at__lt=OuterRef("created_at") + UNSUBSCRIBE_WINDOW,
        )
    )


def signups_for(post: Post) -> int:
    return (
        ConsentRecord.objects.filter(
            kind=ConsentRecord.Kind.GRANTED, referral_code=post.referral_code
        )
        .values("citizen")
        .distinct()
        .count()
    )


def post_report(post: Post) -> PostReport:
    """The whole report of one post: eight queries, whatever the audience."""
    reactions = list(
        _citizen_reactions()
        .filter(message_provider_id__in=Subquery(_post_messages(post).values("provider_id")))
        .values("emoji")
        .annotate(count=Count("pk"))
        .order_by("-count", "emoji")
        .values_list("emoji", "count")
    )
    link_opens = PostLinkOpen.objects.filter(post=post).aggregate(total=Sum("count"))["total"]
    unsubscribes = PostDelivery.objects.filter(post=post).filter(_unsubscribed_soon_after()).count()
    return PostReport(
        post=post,
        progress=post_progress(post),
        reactions=[(emoji, count) for emoji, count in reactions],
        link_opens=link_opens or 0,
        signups=signups_for(post),
        unsubscribes=unsubscribes,
        timeline=timeline(post),
    )


# The key of reads whose message has no delivery status (yet) in ``timeline``'s counts.
_READ_ONLY = "read without delivery"


def timeline(post: Post) -> Timeline:
    """Deliveries and reads over time from the status history, in buckets of a minute, an
    hour or a day (so the chart has at most about MAX_CHART_POINTS points); two queries."""
    events = MessageStatusEvent.objects.filter(
        provider_message_id__in=Subquery(
            _post_messages(post).filter(provider_id__isnull=False).values("provider_id")
        ),
        status__in=[Message.Status.DELIVERED, Message.Status.READ],
    )
    span = events.aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
    if span["first"] is None:
        return Timeline()
    length = span["last"] - span["first"]
    trunc: type[TruncMinute] | type[TruncHour] | type[TruncDay]
    if length <= timedelta(minutes=MAX_CHART_POINTS):
        trunc, step, bucket = TruncMinute, timedelta(minutes=1), "minute"
    elif length <= timedelta(hours=MAX_CHART_POINTS):
        trunc, step, bucket = TruncHour, timedelta(hours=1), "hour"
    else:
        trunc, step, bucket = TruncDay, timedelta(days=1), "day"
    zone = timezone.get_current_timezone()
    # Webhooks can arrive out of order, and Meta may report a read without the delivery: such
    # a read counts as the delivery too, until (if ever) the delivery's own status comes.
    delivery_reported = MessageStatusEvent.objects.filter(
        provider_message_id=OuterRef("provider_message_id"), status=Message.Status.DELIVERED
    )
    counts: dict[tuple[str, datetime], int] = {}
    for row in (
        events.annotate(
            slot=trunc("occurred_at", tzinfo=zone), delivery_reported=Exists(delivery_reported)
        )
        .values("status", "slot", "delivery_reported")
        .annotate(count=Count("pk"))
        .order_by()
    ):
        status = row["status"]
        if status == Message.Status.READ and not row["delivery_reported"]:
            counts[(_READ_ONLY, row["slot"])] = row["count"]
        counts[(status, row["slot"])] = counts.get((status, row["slot"]), 0) + row["count"]
    first = min(slot for _status, slot in counts)
    last = max(slot for _status, slot in counts)
    result = Timeline(bucket=bucket)
    delivered = read = 0
    slot = first
    while slot <= last:
        read += counts.get((Message.Status.READ, slot), 0)
        delivered += counts.get((Message.Status.DELIVERED, slot), 0)
        delivered += counts.get((_READ_ONLY, slot), 0)
        result.at.append(slot)
        result.delivered.append(delivered)
        result.read.append(read)
        slot = _next_slot(slot, step, zone)
    return result


def _next_slot(slot: datetime, step: timedelta, zone: Any) -> datetime:
    """The next bucket in local time (a day is 23 or 25 hours on the DST nights)."""
    local = timezone.localtime(slot, zone)
    if step >= timedelta(days=1):
        return (local.replace(tzinfo=None) + step).replace(tzinfo=local.tzinfo).astimezone(zone)
    return timezone.localtime(slot + step, zone)


# --- compare ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompareRow:
    post: Post
    title: str
    audience: int
    handed_over: int
    reached: int
    read: int
    reactions: int
    unsubscribes: int
    link_opens: int
    signups: int

    @property
    def read_rate(self) -> float | None:
        return _rate(self.read, self.handed_over)


SORT_KEYS = (
    "sent",
    "audience",
    "read_rate",
    "reactions",
    "unsubscribes",
    "link_opens",
    "signups",
)


def _count(queryset: QuerySet[Any]) -> Coalesce:
    """A correlated COUNT(*) as a scalar subquery."""
    counted = queryset.order_by().annotate(total=Func(F("pk"), function="COUNT")).values("total")
    return Coalesce(Subquery(counted[:1], output_field=IntegerField()), 0)


def compare_rows(sort: str = "-sent") -> list[CompareRow]:
    """The posts that went out, newest first (or by ``sort``: a SORT_KEYS name, ``-`` for
    descending), each with its numbers: two queries for any number of posts."""
    deliveries = PostDelivery.objects.filter(post=OuterRef("pk"))
    post_message_ids = Message.objects.filter(post_delivery__post=OuterRef(OuterRef("pk")))
    posts = (
        Post.objects.filter(published_at__isnull=False)
        .annotate(
            n_audience=_count(deliveries),
            n_handed_over=_count(
                deliveries.filter(
                    message__status__in=[
                        Message.Status.ACCEPTED,
                        Message.Status.SENT,
                        Message.Status.FAILED,
                        *REACHED_STATUSES,
                    ]
                )
            ),
            n_reached=_count(deliveries.filter(message__status__in=REACHED_STATUSES)),
            n_read=_count(deliveries.filter(message__status__in=READ_STATUSES)),
            n_reactions=_count(
                _citizen_reactions().filter(
                    message_provider_id__in=post_message_ids.values("provider_id")
                )
            ),
            n_unsubscribes=_count(deliveries.filter(_unsubscribed_soon_after())),
            n_link_opens=Coalesce(
                Subquery(
                    PostLinkOpen.objects.filter(post=OuterRef("pk"))
                    .order_by()
                    .values("post")
                    .annotate(total=Sum("count"))
                    .values("total")[:1],
                    output_field=IntegerField(),
                ),
                0,
            ),
            n_signups=_count(
                ConsentRecord.objects.filter(
                    kind=ConsentRecord.Kind.GRANTED, referral_code=OuterRef("referral_code")
                )
            ),
        )
        .prefetch_related("versions")
        .order_by("-published_at", "-id")[:COMPARE_LIMIT]
    )
    rows = [
        CompareRow(
            post=post,
            title=_title(post),
            audience=post.n_audience,
            handed_over=post.n_handed_over,
            reached=post.n_reached,
            read=post.n_read,
            reactions=post.n_reactions,
            unsubscribes=post.n_unsubscribes,
            link_opens=post.n_link_opens,
            signups=post.n_signups,
        )
        for post in posts
    ]
    return sort_rows(rows, sort)


def _title(post: Post) -> str:
    versions = {version.language: version.title for version in post.versions.all()}
    return versions.get("de") or next(iter(versions.values()), "")


def sort_rows(rows: list[CompareRow], sort: str) -> list[CompareRow]:
    key = sort.lstrip("-")
    if key not in SORT_KEYS:
        return rows
    descending = sort.startswith("-")

    def value(row: CompareRow) -> tuple[bool, Any]:
        if key == "sent":
            found: Any = row.post.published_at
        else:
            found = getattr(row, key)
        # Posts without a value (no read rate yet) go last either way.
        return (found is None) != descending, found if found is not None else 0

    return sorted(rows, key=value, reverse=descending)
