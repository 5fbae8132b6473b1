"""Read-only questions about citizens: their current choices and the DSGVO data export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.module_loading import import_string

from townhall.citizens.models import (
    BotSession,
    Citizen,
    ConsentRecord,
    Offering,
    Subscription,
    Topic,
    TopicSubscription,
)
from townhall.whatsapp.models import Message, MessageReaction


def active_topics() -> list[Topic]:
    """The topics of the info channel a citizen can choose, in display order."""
    return list(Topic.objects.filter(is_active=True))


def active_offerings(citizen: Citizen) -> set[str]:
    """The offerings the citizen has consented to and not withdrawn."""
    return set(
        Subscription.objects.filter(citizen=citizen, state=Subscription.State.ACTIVE).values_list(
            "offering", flat=True
        )
    )


def chosen_topic_slugs(citizen: Citizen) -> set[str]:
    """The slugs of the (active) topics the citizen currently wants."""
    return set(
        TopicSubscription.objects.filter(
            citizen=citizen, is_active=True, topic__is_active=True
        ).values_list("topic__slug", flat=True)
    )


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def citizen_export(citizen: Citizen) -> dict[str, Any]:
    """Everything stored about ``citizen``, as plain JSON-ready data (DSGVO Art. 15 and 20).

    Used by the citizen's own download link and by staff exporting on request. Datetimes are
    ISO 8601 in UTC; lists are in time order. A fixed number of queries, whatever the amount
    of data. ``citizens.personal_data`` lists which column is exported under which key (a
    test checks that every personal column is). Apps above this one (the inbox) add their
    part through ``settings.CITIZEN_EXPORT_HANDLERS``.
    """
    subscriptions = [
        {
            "offering": subscription.offering,
            "state": subscription.state,
            "consent_text_version": (
                subscription.consent_text.version if subscription.consent_text else None
            ),
            "requested_at": _iso(subscription.requested_at),
            "confirmed_at": _iso(subscription.confirmed_at),
            "ended_at": _iso(subscription.ended_at),
        }
        for subscription in Subscription.objects.filter(citizen=citizen)
        .select_related("consent_text")
        .order_by("requested_at", "id")
    ]
    topics = [
        {
            "topic": row.topic.slug,
            "is_active": row.is_active,
            "updated_at": _iso(row.updated_at),
        }
        for row in TopicSubscription.objects.filter(citizen=citizen)
        .select_related("topic")
        .order_by("topic__position", "topic__id")
    ]
    consent_history = [
        {
            "kind": record.kind,
            "offering": record.offering or None,
            "topic": record.topic.slug if record.topic else None,
            "channel": record.channel,
            "consent_text_version": record.consent_text.version if record.consent_text else None,
            "notification_mode": record.notification_mode,
            "age_confirmed": record.age_confirmed,
            "referral_code": record.referral_code,
            "created_at": _iso(record.created_at),
        }
        for record in ConsentRecord.objects.filter(citizen=citizen)
        .select_related("topic", "consent_text")
        .order_by("created_at", "id")
    ]
    messages = [
        {
            "direction": message["direction"],
            "type": message["type"],
            "text": message["text"],
            # What WhatsApp sent us (a location's coordinates, a shared contact, a file's id)
            # or what we sent (buttons, a template's parameters).
            "content": message["payload"],
            "profile_name": message["profile_name"],
            "topic": message["topic"],
            "created_at": _iso(message["created_at"]),
            "status": message["status"],
        }
        for message in Message.objects.filter(wa_id=citizen.wa_id)
        .order_by("created_at", "id")
        .values(
            "direction",
            "type",
            "text",
            "payload",
            "profile_name",
            "topic",
            "created_at",
            "status",
        )
    ]
    reactions = [
        {
            "message_provider_id": reaction["message_provider_id"],
            "from_business": reaction["from_business"],
            "emoji": reaction["emoji"],
            "reacted_at": _iso(reaction["reacted_at"]),
        }
        for reaction in MessageReaction.objects.filter(wa_id=citizen.wa_id)
        .order_by("reacted_at", "id")
        .values("message_provider_id", "from_business", "emoji", "reacted_at")
    ]
    session = BotSession.objects.filter(citizen=citizen).first()
    bot_session = (
        None
        if session is None
        else {
            "step": session.step,
            "data": session.data,
            "expires_at": _iso(session.expires_at),
            "updated_at": _iso(session.updated_at),
        }
    )
    extra: dict[str, Any] = {}
    for handler in settings.CITIZEN_EXPORT_HANDLERS:
        extra.update(import_string(handler)(citizen))
    return {
        "wa_id": citizen.wa_id,
        "profile_name": citizen.profile_name,
        "language": citizen.language,
        "created_at": _iso(citizen.created_at),
        "last_inbound_at": _iso(citizen.last_inbound_at),
        "notification_mode": citizen.notification_mode,
        "notification_mode_changed_at": _iso(citizen.notification_mode_changed_at),
        "subscriptions": subscriptions,
        "topics": topics,
        "consent_history": consent_history,
        "messages": messages,
        "reactions": reactions,
        "bot_session": bot_session,
        **extra,
    }


@dataclass(frozen=True, slots=True)
class CitizenSubscriptions:
    """One citizen's current choices: a subscription (or None) per offering, and topics."""

    subscriptions: list[tuple[str, str, Subscription | None]]
    topics: list[str]

    @property
    def is_info_active(self) -> bool:
        return any(
            offering == Offering.INFO
            and subscription is not None
            and subscription.state == Subscription.State.ACTIVE
            for offering, _, subscription in self.subscriptions
        )


def citizen_subscriptions(citizen: Citizen, language: str) -> CitizenSubscriptions:
    """What ``citizen`` is subscribed to now. Two queries."""
    by_offering = {
        subscription.offering: subscription
        for subscription in Subscription.objects.filter(citizen=citizen).select_related(
            "consent_text"
        )
    }
    topic_rows: QuerySet[TopicSubscription] = (
        TopicSubscription.objects.filter(citizen=citizen, is_active=True, topic__is_active=True)
        .select_related("topic")
        .order_by("topic__position", "topic__id")
    )
    return CitizenSubscriptions(
        subscriptions=[
            (offering, str(label), by_offering.get(offering))
            for offering, label in Offering.choices
        ],
        topics=[row.topic.name(language) for row in topic_rows],
    )
