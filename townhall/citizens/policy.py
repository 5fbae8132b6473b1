"""The consent rule of the sending layer (``settings.WHATSAPP["SEND_POLICY"]``)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, QuerySet

from townhall.citizens.models import Citizen, Offering, Subscription, TopicSubscription
from townhall.whatsapp.policy import Purpose
from townhall.whatsapp.service_window import is_within_service_window


def refusals(wa_ids: Iterable[str], purpose: Purpose, topic: str = "") -> dict[str, str]:
    """Why each of ``wa_ids`` may not receive a message for ``purpose``; absent = allowed.

    - service replies: only to someone who wrote to us in the last 24 hours;
    - chat: only with an active chat subscription (consent on record);
    - info: only with an active info subscription and, for a topic, that topic chosen.

    At most three queries, whatever the number of recipients (a broadcast batch asks once).
    """
    wanted = set(wa_ids)
    citizens = dict(
        Citizen.objects.filter(wa_id__in=wanted, erased_at__isnull=True).values_list(
            "wa_id", "last_inbound_at"
        )
    )
    reasons = {wa_id: "unknown citizen" for wa_id in wanted - citizens.keys()}
    if purpose == Purpose.SERVICE_REPLY:
        for wa_id, last_inbound_at in citizens.items():
            if not is_within_service_window(last_inbound_at):
                reasons[wa_id] = "no message from the citizen in the last 24 hours"
        return reasons
    offering = Offering.CHAT if purpose == Purpose.CHAT else Offering.INFO
    subscribed = set(
        Subscription.objects.filter(
            citizen__wa_id__in=citizens.keys(),
            citizen__erased_at__isnull=True,
            offering=offering,
            state=Subscription.State.ACTIVE,
        ).values_list("citizen__wa_id", flat=True)
    )
    for wa_id in citizens.keys() - subscribed:
        reasons[wa_id] = f"no active consent for the {offering} offering"
    if purpose == Purpose.INFO and topic:
        chose_topic = set(
            TopicSubscription.objects.filter(
                citizen__wa_id__in=subscribed, topic__slug=topic, is_active=True
            ).values_list("citizen__wa_id", flat=True)
        )
        for wa_id in subscribed - chose_topic:
            reasons[wa_id] = "topic not chosen"
    return reasons


def info_recipients(topic_slugs: Iterable[str] = ()) -> QuerySet[Citizen]:
    """Everyone ``refusals`` lets receive an info post of any of ``topic_slugs`` (no topic:
    every info subscriber), as one query to chunk, count or join; the same rule."""
    slugs = list(topic_slugs)
    recipients = Citizen.objects.filter(erased_at__isnull=True).filter(
        Exists(
            Subscription.objects.filter(
                citizen=OuterRef("pk"), offering=Offering.INFO, state=Subscription.State.ACTIVE
            )
        )
    )
    if slugs:
        recipients = recipients.filter(
            Exists(
                TopicSubscription.objects.filter(
                    citizen=OuterRef("pk"), topic__slug__in=slugs, is_active=True
                )
            )
        )
    return recipients
