"""Where personal data about a citizen is kept, column by column (DSGVO Art. 15, 17, 30).

Every column of every model that holds data about a citizen is listed here with what the
data export (``citizens.queries.citizen_export``) shows of it and what erasure
(``citizens.actions.do_erase_citizen``) does to it. The tests check that this covers every
column of those models (a new column fails them until it is classified here), that the
export shows every exported column, and that erasure does what is written. docs/privacy.md
describes the same in prose.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class OnErasure(enum.Enum):
    EMPTIED = "emptied"  # set to "", {} or None
    PSEUDONYMISED = "pseudonymised"  # replaced by the random "erased-…" pseudonym
    DELETED = "deleted"  # the rows go
    KEPT_ANONYMOUS = "kept anonymous"  # stays for statistics; nothing links it to a person


@dataclass(frozen=True)
class Personal:
    """A column with data about the citizen: exported under ``export`` (``collection.key``
    or a top-level key of the export; None: a copy of data exported elsewhere, ``reason``
    says which)."""

    export: str | None
    on_erasure: OnErasure
    reason: str = ""


@dataclass(frozen=True)
class Technical:
    """A column that says nothing about the person (ids, counters, our own bookkeeping)."""

    reason: str


E, P, D, K = (
    OnErasure.EMPTIED,
    OnErasure.PSEUDONYMISED,
    OnErasure.DELETED,
    OnErasure.KEPT_ANONYMOUS,
)
ID = Technical("row id")
POLL_KEPT = "the poll's counts stay; the answer belongs to the pseudonymised citizen"
STATS = "kept for statistics once the number and name are gone"

REGISTRY: dict[str, dict[str, Personal | Technical]] = {
    "citizens.Citizen": {
        "id": ID,
        "wa_id": Personal("wa_id", P),
        "profile_name": Personal("profile_name", E),
        "created_at": Personal("created_at", K, STATS),
        "last_inbound_at": Personal("last_inbound_at", K, STATS),
        "language": Personal("language", K, STATS),
        "notification_mode": Personal("notification_mode", K, STATS),
        "notification_mode_changed_at": Personal("notification_mode_changed_at", K, STATS),
        "erased_at": Technical("when the erasure ran"),
        "erasure_requested_at": Technical("when the erasure was asked for"),
        "erasure_requested_channel": Technical("how the erasure was asked for"),
        "link_generation": Technical("revokes the citizen's links when raised"),
        "export_downloads": Technical("makes an export link single-use"),
    },
    "citizens.Subscription": {
        "id": ID,
        "citizen": Technical("link to the citizen"),
        "offering": Personal("subscriptions.offering", K, STATS),
        "state": Personal("subscriptions.state", K, "ended by the erasure"),
        "consent_text": Personal("subscriptions.consent_text_version", K, STATS),
        "requested_at": Personal("subscriptions.requested_at", K, STATS),
        "confirmed_at": Personal("subscriptions.confirmed_at", K, STATS),
        "ended_at": Personal("subscriptions.ended_at", K, STATS),
    },
    "citizens.TopicSubscription": {
        "id": ID,
        "citizen": Technical("link to the citizen"),
        "topic": Personal("topics.topic", K, STATS),
        "is_active": Personal("topics.is_active", K, STATS),
        "updated_at": Personal("topics.updated_at", K, STATS),
    },
    "citizens.ConsentRecord": {
        "id": ID,
        "citizen": Technical("link to the citizen"),
        "kind": Personal("consent_history.kind", K, "proof of consent, Art. 7(1)"),
        "offering": Personal("consent_history.offering", K, "proof of consent"),
        "topic": Personal("consent_history.topic", K, "proof of consent"),
        "consent_text": Personal("consent_history.consent_text_version", K, "proof"),
        "channel": Personal("consent_history.channel", K, "proof of consent"),
        "age_confirmed": Personal("consent_history.age_confirmed", K, "proof (Art. 8)"),
        "referral_code": Personal("consent_history.referral_code", K, "which post, counted"),
        "notification_mode": Personal("consent_history.notification_mode", K, "the choice made"),
        "acting_user": Technical("the staff member who recorded it"),
        "created_at": Personal("consent_history.created_at", K, "proof of consent"),
    },
    "citizens.BotSession": {
        "id": ID,
        "citizen": Technical("link to the citizen"),
        "step": Personal("bot_session.step", D),
        "data": Personal("bot_session.data", D),
        "expires_at": Personal("bot_session.expires_at", D),
        "updated_at": Personal("bot_session.updated_at", D),
    },
    "whatsapp.Message": {
        "id": ID,
        "provider_id": Technical("Meta's message id"),
        "direction": Personal("messages.direction", K, STATS),
        "wa_id": Personal("wa_id", P, "the citizen's number, exported once"),
        "profile_name": Personal("messages.profile_name", E),
        "type": Personal("messages.type", K, STATS),
        "text": Personal("messages.text", E),
        "payload": Personal("messages.content", E),
        "context_provider_id": Personal(None, E, "which message was quoted: in content"),
        "status": Personal("messages.status", K, STATS),
        "purpose": Technical("why we were allowed to send it"),
        "topic": Personal("messages.topic", K, STATS),
        "error_code": Technical("Meta's error code"),
        "error_title": Technical("Meta's error title, never the text"),
        "attempts": Technical("sending attempts"),
        "next_attempt_at": Technical("retry time"),
        "expires_at": Technical("send deadline"),
        "priority": Technical("sending order"),
        "handled_at": Technical("when the handlers ran"),
        "created_at": Personal("messages.created_at", K, STATS),
        "status_updated_at": Technical("bookkeeping"),
    },
    "whatsapp.MessageStatusEvent": {
        "id": ID,
        "provider_message_id": Technical("Meta's message id"),
        "status": Personal(None, K, "the message's status is exported with the message"),
        "recipient_wa_id": Personal(None, E, "the number, exported as wa_id"),
        "occurred_at": Personal(None, K, "delivery times: the status is exported"),
        "received_at": Technical("bookkeeping"),
        "errors": Technical("Meta's error codes"),
        "pricing": Technical("Meta's pricing category"),
    },
    "whatsapp.MessageReaction": {
        "id": ID,
        "message_provider_id": Personal("reactions.message_provider_id", K, STATS),
        "wa_id": Personal("wa_id", P, "the citizen's number, exported once"),
        "from_business": Personal("reactions.from_business", K, STATS),
        "emoji": Personal("reactions.emoji", K, "counted in the posts' reports"),
        "reacted_at": Personal("reactions.reacted_at", K, STATS),
        "reaction_message": Technical("link to the message that carried it"),
        "webhook_event_id": Technical("arrival order of the webhook that carried it"),
    },
    "whatsapp.WebhookEvent": {
        "id": ID,
        "body_sha256": Technical("duplicate check"),
        "body": Personal(None, D, "the raw webhook: the same data as the messages"),
        "received_at": Technical("bookkeeping"),
        "state": Technical("bookkeeping"),
        "processed_at": Technical("bookkeeping"),
        "attempts": Technical("bookkeeping"),
        "error": Technical("a technical reason, never personal data"),
    },
    "inbox.Conversation": {
        "id": ID,
        "citizen": Technical("link to the citizen"),
        "state": Personal("conversation.state", K, STATS),
        "priority": Personal("conversation.priority", K, STATS),
        "assignee": Technical("the staff member"),
        "team": Technical("the team"),
        "is_unsubscribed": Personal("conversation.is_unsubscribed", K, STATS),
        "last_message_at": Personal("conversation.last_message_at", K, STATS),
        "last_inbound_at": Personal(None, K, "the same as the citizen's"),
        "last_message_preview": Personal("conversation.last_message_preview", E),
        "last_message_direction": Technical("list display"),
        "unread_count": Technical("list display"),
        "opened_at": Personal("conversation.opened_at", K, STATS),
        "first_response_at": Technical("metrics of the office"),
        "resolved_at": Personal("conversation.resolved_at", K, STATS),
        "auto_replied_period": Technical("which closed period got its auto-reply"),
        "labels": Personal("conversation.labels", E),
    },
    "inbox.Note": {
        "id": ID,
        "conversation": Technical("link to the conversation"),
        "author": Technical("the staff member"),
        "text": Personal("conversation.notes.text", D),
        "created_at": Personal("conversation.notes.created_at", D),
    },
    "inbox.ConversationEvent": {
        "id": ID,
        "conversation": Technical("link to the conversation"),
        "kind": Technical("metrics of the office (opened, answered, resolved)"),
        "actor": Technical("the staff member"),
        "data": Technical("states, assignees, periods: the office's work"),
        "team": Technical("the team"),
        "office_seconds": Technical("metrics of the office"),
        "created_at": Technical("metrics of the office"),
    },
    "channel.PostDelivery": {
        "id": ID,
        "post": Technical("which post: the message itself is exported"),
        "citizen": Technical("link to the citizen"),
        "message": Technical("link to the message"),
        "language": Technical("the version sent: in the message"),
        "as_template": Technical("how it was sent: in the message"),
        "created_at": Technical("when the fan-out reached them: the message's time"),
    },
    "channel.PollAnswer": {
        "id": ID,
        "poll": Technical("which poll: its question is exported with the answer"),
        "citizen": Technical("link to the citizen"),
        "option": Personal("poll_answers.option", K, POLL_KEPT),
        "language": Personal("poll_answers.language", K, POLL_KEPT),
        "first_answered_at": Personal("poll_answers.first_answered_at", K, POLL_KEPT),
        "answered_at": Personal("poll_answers.answered_at", K, POLL_KEPT),
        "changes": Technical("how often the answer changed: a counter"),
    },
    "channel.DigestDelivery": {
        "id": ID,
        "digest": Technical("which day's summary: the message itself is exported"),
        "citizen": Technical("link to the citizen"),
        "message": Technical("link to the message"),
        "post_ids": Technical("which posts it listed: in the message"),
        "language": Technical("the version sent: in the message"),
        "as_template": Technical("how it was sent: in the message"),
        "created_at": Technical("when the summary was queued: the message's time"),
    },
}

# Models that hold a citizen's number in a column of their own (no foreign key to Citizen).
WA_ID_MODELS = (
    "whatsapp.Message",
    "whatsapp.MessageReaction",
    "whatsapp.MessageStatusEvent",
    "whatsapp.WebhookEvent",
)
