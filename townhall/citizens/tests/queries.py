"""What tests read back about a citizen's subscriptions and consent records."""

from __future__ import annotations

from townhall.citizens.models import Citizen, ConsentRecord, Subscription, TopicSubscription


def subscription_states(citizen: Citizen) -> dict[str, str]:
    """Offering -> state of each of the citizen's subscriptions."""
    return dict(
        Subscription.objects.filter(citizen=citizen).values_list("offering", "state").order_by()
    )


def chosen_topics(citizen: Citizen) -> set[str]:
    return set(
        TopicSubscription.objects.filter(citizen=citizen, is_active=True).values_list(
            "topic__slug", flat=True
        )
    )


def records_after(citizen: Citizen, last_id: int) -> list[tuple[str, str, str | None, str]]:
    """(kind, offering, topic slug, channel) of the consent records written after ``last_id``."""
    return [
        (record.kind, record.offering, record.topic.slug if record.topic else None, record.channel)
        for record in ConsentRecord.objects.filter(citizen=citizen, id__gt=last_id)
        .select_related("topic")
        .order_by("id")
    ]


def last_record_id() -> int:
    return ConsentRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0
