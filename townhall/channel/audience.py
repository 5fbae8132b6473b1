"""Who a post will reach, before it is sent: the composer's numbers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from townhall.channel import limits
from townhall.channel.models import Post
from townhall.channel.sending_rule import WINDOW_MARGIN, version_language
from townhall.citizens.models import (
    Citizen,
    NotificationMode,
    Offering,
    Subscription,
    Topic,
    TopicSubscription,
)
from townhall.citizens.policy import info_recipients
from townhall.core import clock
from townhall.whatsapp.models import MessageTemplate
from townhall.whatsapp.service_window import open_window_cutoff


@dataclass(frozen=True)
class AudiencePlan:
    # Citizens with consent for the info channel and one of the topics (all subscribers
    # when the post has no topic).
    total: int
    # Their 24-hour window is open: free text.
    free_text: int
    # Window closed and an approved template: the template.
    as_template: int
    # Window closed and no approved template: cannot be reached.
    without_template_possible: int
    # Language version -> citizens who get it.
    by_language: dict[str, int] = field(default_factory=dict)
    # Chose one of the topics (or subscribed once) but have no active consent, or were erased.
    excluded_no_consent: int = 0
    # The messaging limit: None = unlimited.
    messaging_limit: int | None = None
    template_capacity: int | None = None
    # Of ``as_template``: what the limit lets go today and what has to wait (0 for urgent
    # alerts, which are never held by the limit).
    template_now: int = 0
    template_later: int = 0
    template_later_from: datetime | None = None
    # Of the topics' subscribers, left out of a normal post because of their bell: they get
    # it in the evening's summary, or only want urgent alerts (0 for urgent alerts).
    in_daily_summary: int = 0
    urgent_only: int = 0

    @property
    def reachable(self) -> int:
        return self.free_text + self.as_template


def post_recipients(topic_slugs: Iterable[str], kind: str) -> QuerySet[Citizen]:
    """Who a post goes to at once: the consent rule (``info_recipients``) and the citizen's
    bell. Urgent alerts reach everyone subscribed; normal posts skip citizens who want
    urgent alerts only or the daily summary (which lists the post for them instead).
    The fan-out and the composer's numbers both ask this one function."""
    recipients = info_recipients(topic_slugs)
    if kind == Post.Kind.URGENT:
        return recipients
    return recipients.filter(notification_mode=NotificationMode.ALL)


def plan_audience(
    *,
    topics: Iterable[Topic],
    kind: str = Post.Kind.NORMAL,
    template: MessageTemplate | None = None,
    languages: Iterable[str] = ("de",),
    now: datetime | None = None,
) -> AudiencePlan:
    """The audience of a post with these settings, in at most four queries."""
    now = now or clock.now()
    slugs = [topic.slug for topic in topics]
    post_languages = set(languages) | {"de"}
    cutoff = open_window_cutoff(now, open_for=WINDOW_MARGIN)
    urgent = kind == Post.Kind.URGENT
    recipients = info_recipients(slugs)
    rows = recipients.values("language", "notification_mode").annotate(
        total=Count("pk"), open=Count("pk", filter=Q(last_inbound_at__gt=cutoff))
    )
    total = free_text = 0
    by_language: dict[str, int] = {}
    held_back: dict[str, int] = {}
    for row in rows.order_by():
        if not urgent and row["notification_mode"] != NotificationMode.ALL:
            # The same rule as post_recipients, counted from the same rows.
            mode = row["notification_mode"]
            held_back[mode] = held_back.get(mode, 0) + row["total"]
            continue
        total += row["total"]
        free_text += row["open"]
        language = version_language(post_languages, row["language"])
        by_language[language] = by_language.get(language, 0) + row["total"]
    closed = total - free_text
    has_template = template is not None and template.is_sendable
    as_template = closed if has_template else 0
    if slugs:
        interested = Citizen.objects.filter(
            Exists(
                TopicSubscription.objects.filter(
                    citizen=OuterRef("pk"), topic__slug__in=slugs, is_active=True
                )
            )
        )
    else:
        interested = Citizen.objects.filter(
            Exists(Subscription.objects.filter(citizen=OuterRef("pk"), offering=Offering.INFO))
        )
    excluded = interested.exclude(pk__in=recipients.values("pk")).count()
    limit_plan = limits.plan_for(as_template, now=now)
    return AudiencePlan(
        total=total,
        free_text=free_text,
        as_template=as_template,
        without_template_possible=0 if has_template else closed,
        by_language=by_language,
        excluded_no_consent=excluded,
        messaging_limit=limit_plan.limit,
        template_capacity=limit_plan.capacity,
        template_now=as_template if urgent else limit_plan.send_now,
        template_later=0 if urgent else limit_plan.send_later,
        template_later_from=None if urgent else limit_plan.later_from,
        in_daily_summary=held_back.get(NotificationMode.DIGEST, 0),
        urgent_only=held_back.get(NotificationMode.URGENT_ONLY, 0),
    )
