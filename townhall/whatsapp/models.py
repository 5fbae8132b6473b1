"""What Townhall stores of its traffic with the WhatsApp Cloud API.

- ``WebhookEvent``: each signed webhook body, exactly as received, before anything else.
- ``Message``: every inbound and outbound message, one row per provider message id.
- ``MessageStatusEvent``: the status history (sent, delivered, read, failed) of outbound messages.
- ``MessageTemplate``: the templates Townhall submits to Meta and may send outside the window.
- ``MessageReaction``: the emoji a citizen (or the city) put on a message, latest one only.
"""

from collections.abc import Sequence

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from townhall.whatsapp import outbound
from townhall.whatsapp.errors import CloudAPIError, error_class_for


class WebhookEvent(models.Model):
    """A webhook POST that passed the signature check, stored before we answer Meta."""

    class State(models.TextChoices):
        PENDING = "pending", "pending"
        PROCESSED = "processed", "processed"
        # Valid signature but a body we could not read (invalid JSON, unknown shape):
        # kept for inspection, never retried automatically.
        REJECTED = "rejected", "rejected"
        FAILED = "failed", "failed"

    # Meta re-delivers the identical body; the hash makes the re-delivery a no-op (unique
    # by a constraint in Meta below: ``unique=True`` adds a LIKE index on PostgreSQL that
    # every insert of the webhook's hot path would pay for and no query uses).
    body_sha256 = models.CharField(verbose_name=_("body hash (SHA-256)"), max_length=64)
    # Text, not bytes, so erasure can find a citizen's number in stored bodies. The signature
    # was checked on the raw bytes before storing; exact bytes are not needed afterwards.
    body = models.TextField(verbose_name=_("content"))
    # Indexed with the state (Meta below): every query by time asks for a state too.
    received_at = models.DateTimeField(verbose_name=_("received at"), default=timezone.now)
    state = models.CharField(
        verbose_name=_("state"), max_length=16, choices=State.choices, default=State.PENDING
    )
    processed_at = models.DateTimeField(verbose_name=_("processed at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(verbose_name=_("attempts"), default=0)
    # A short technical reason, never personal data.
    error = models.CharField(verbose_name=_("error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        indexes = [models.Index(fields=["state", "received_at"])]
        constraints = [
            models.UniqueConstraint(fields=["body_sha256"], name="whatsapp_webhookevent_body_once")
        ]

    def __str__(self) -> str:
        return f"WebhookEvent {self.pk} ({self.state})"


class Message(models.Model):
    """One WhatsApp message in either direction."""

    class Priority(models.IntegerChoices):
        # Lower goes first. Replies are few and someone waits for them; an urgent alert
        # overtakes any normal broadcast.
        REPLY = 0, "reply"
        URGENT = 1, "urgent"
        BULK = 2, "bulk"

    class Direction(models.TextChoices):
        INBOUND = "in", "inbound"
        OUTBOUND = "out", "outbound"

    class Status(models.TextChoices):
        # Outbound lifecycle. Values are ordered by STATUS_RANK below.
        QUEUED = "queued", "queued"
        # Claimed by a worker that is calling the API right now.
        SENDING = "sending", "sending"
        # The API call ended without an answer (timeout, reset, worker killed): Meta may or
        # may not have it. Reconciled by a status webhook carrying our callback data, or
        # queued again when none came within SEND_RECONCILE_SECONDS (see docs/architecture).
        UNCONFIRMED = "unconfirmed", "unconfirmed"
        ACCEPTED = "accepted", "accepted"
        SENT = "sent", "sent"
        DELIVERED = "delivered", "delivered"
        READ = "read", "read"
        PLAYED = "played", "played"
        FAILED = "failed", "failed"
        # Not sent: consent was withdrawn between queueing and sending, its sender cancelled
        # it, or it was no longer worth sending (``expires_at`` passed); ``error_title`` says.
        CANCELLED = "cancelled", "cancelled"
        # Queued but held back by its sender (a paused broadcast): the dispatcher's claim
        # ignores it until it is queued again.
        HELD = "held", "held"
        # Inbound messages.
        RECEIVED = "received", "received"
        # Inbound: the handlers failed INBOUND_MAX_ATTEMPTS times; waits for a person to retry.
        HANDLING_FAILED = "handling_failed", "handling failed"

    # Unique by a constraint in Meta (no LIKE index on PostgreSQL: every status update of
    # a broadcast would maintain it, and ids are only ever looked up whole).
    # NULL, not "": the unsent rows must not collide on one empty id.
    provider_id = models.CharField(  # noqa: DJ001
        verbose_name=_("WhatsApp message ID"), max_length=255, null=True, blank=True
    )
    direction = models.CharField(
        verbose_name=_("direction"), max_length=3, choices=Direction.choices
    )
    # The citizen's WhatsApp id (digits of the E.164 number without "+"); looked up through
    # the (wa_id, created_at) index of Meta.
    wa_id = models.CharField(verbose_name=_("WhatsApp number"), max_length=32)
    # Inbound: the sender's WhatsApp profile name at the time (personal data).
    profile_name = models.CharField(verbose_name=_("profile name"), max_length=255, blank=True)
    type = models.CharField(verbose_name=_("type"), max_length=32)
    # Plain text for display and search: the body, a caption, the chosen button's title.
    text = models.TextField(verbose_name=_("text"), blank=True)
    # Inbound: the message object as Meta sent it (the type's object is under its type key,
    # e.g. payload["image"]). Outbound: the type-specific request body we send.
    payload = models.JSONField(verbose_name=_("content (JSON)"), default=dict)
    context_provider_id = models.CharField(
        verbose_name=_("reply to (WhatsApp message ID)"), max_length=255, blank=True
    )
    status = models.CharField(verbose_name=_("status"), max_length=16, choices=Status.choices)
    # Outbound: why we may send it (townhall.whatsapp.policy.Purpose) and the info topic.
    purpose = models.CharField(verbose_name=_("purpose"), max_length=16, blank=True)
    topic = models.CharField(verbose_name=_("topic"), max_length=50, blank=True)
    error_code = models.IntegerField(verbose_name=_("error code"), null=True, blank=True)
    error_title = models.CharField(verbose_name=_("error"), max_length=255, blank=True)
    attempts = models.PositiveIntegerField(verbose_name=_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(verbose_name=_("next attempt at"), null=True, blank=True)
    # Outbound: not sent after this instant (an urgent alert that is over must not arrive
    # hours later); the dispatcher cancels it instead. Empty = no limit.
    expires_at = models.DateTimeField(verbose_name=_("expires at"), null=True, blank=True)
    # Outbound: the order in which queued messages are claimed (Priority).
    priority = models.PositiveSmallIntegerField(
        verbose_name=_("priority"), choices=Priority.choices, default=Priority.REPLY
    )
    # Inbound: when the business handlers (bot, inbox) ran for it; null = still to do.
    handled_at = models.DateTimeField(verbose_name=_("handled at"), null=True, blank=True)
    # When the message was written: Meta's timestamp for inbound, our queueing time for outbound.
    created_at = models.DateTimeField(
        verbose_name=_("created at"), default=timezone.now, db_index=True
    )
    status_updated_at = models.DateTimeField(
        verbose_name=_("status changed at"), default=timezone.now
    )

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        permissions = [
            ("view_message_log", _("Can read the message log")),
            ("retry_inbound_message", _("Can retry the handling of a failed inbound message")),
        ]
        indexes = [
            models.Index(fields=["wa_id", "created_at"]),
            models.Index(fields=["direction", "status"]),
            # The dispatcher's claim: queued rows in priority order, nothing else.
            models.Index(
                fields=["priority", "id"],
                condition=models.Q(status="queued"),
                name="whatsapp_message_claim",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["provider_id"], name="whatsapp_message_provider_once")
        ]

    def __str__(self) -> str:
        return f"Message {self.pk} {self.direction} {self.type} ({self.status})"

    @property
    def error(self) -> CloudAPIError | None:
        """The typed error of a failed message, for code that decides what to do next
        (e.g. ``OutsideServiceWindow`` -> offer a template)."""
        if self.status != self.Status.FAILED:
            return None
        error_class = error_class_for(self.error_code)
        return error_class(self.error_title, code=self.error_code)


# Statuses only move forward; a late "delivered" never overwrites "read".
STATUS_RANK: dict[str, int] = {
    Message.Status.QUEUED: 0,
    Message.Status.HELD: 0,
    Message.Status.SENDING: 1,
    Message.Status.UNCONFIRMED: 1,
    Message.Status.ACCEPTED: 2,
    Message.Status.SENT: 3,
    # Meta may report "failed" after "sent"; a failure wins over anything short of delivery.
    Message.Status.FAILED: 4,
    Message.Status.CANCELLED: 4,
    Message.Status.DELIVERED: 4,
    Message.Status.READ: 5,
    Message.Status.PLAYED: 6,
}


class MessageStatusEvent(models.Model):
    """One status webhook for an outbound message: the status history."""

    # Kept as the provider id, not a foreign key: statuses may arrive before the send task
    # has stored the id Meta gave the message.
    provider_message_id = models.CharField(verbose_name=_("WhatsApp message ID"), max_length=255)
    status = models.CharField(verbose_name=_("status"), max_length=16)
    recipient_wa_id = models.CharField(
        verbose_name=_("recipient's WhatsApp number"), max_length=32, blank=True
    )
    occurred_at = models.DateTimeField(verbose_name=_("occurred at"))
    received_at = models.DateTimeField(verbose_name=_("received at"), default=timezone.now)
    errors = models.JSONField(verbose_name=_("errors"), default=list)
    pricing = models.JSONField(verbose_name=_("pricing"), default=dict)

    class Meta:
        verbose_name = _("status event")
        verbose_name_plural = _("status events")
        constraints = [
            models.UniqueConstraint(
                fields=["provider_message_id", "status"], name="unique_status_per_message"
            )
        ]
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.provider_message_id} {self.status}"


class MessageReaction(models.Model):
    """The current reaction of one side of a chat to one message: at most one per reactor.

    WhatsApp keeps one reaction per person and message; a new emoji replaces the old one and
    an empty emoji removes it. The row keeps the removal (empty ``emoji``) with its time, so
    a change that arrives late (webhooks are not ordered) never overwrites a newer one.
    The message is named by its WhatsApp id, like status events: the reaction may refer to
    a message whose id we store a moment later, and joins by id serve every count.
    """

    # The WhatsApp id (wamid) of the message reacted to.
    message_provider_id = models.CharField(_("WhatsApp message ID"), max_length=255)
    # The citizen of the chat (the reactor, or the one whose message the city reacted to).
    wa_id = models.CharField(_("WhatsApp number"), max_length=32)
    # True: the city's reaction (sent from the inbox); False: the citizen's.
    from_business = models.BooleanField(_("from the city"), default=False)
    # Empty = removed.
    emoji = models.CharField(_("emoji"), max_length=16, blank=True)
    reacted_at = models.DateTimeField(_("reacted at"))
    # The message that carried the latest change (inbound webhook or our outbound send).
    reaction_message = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reaction message"),
    )
    # Which change came last when two share a second (WhatsApp's timestamps are whole
    # seconds): the id of the stored webhook that carried it, ids counting up in the order
    # webhooks arrived. Empty for the city's own reactions.
    webhook_event_id = models.BigIntegerField(_("webhook event"), null=True, blank=True)

    class Meta:
        verbose_name = _("reaction")
        verbose_name_plural = _("reactions")
        constraints = [
            models.UniqueConstraint(
                fields=["message_provider_id", "wa_id", "from_business"],
                name="one_reaction_per_reactor",
            )
        ]

    def __str__(self) -> str:
        return f"{self.message_provider_id} {self.emoji or '(removed)'}"


class MessageTemplate(models.Model):
    """A message template as Townhall manages it: written here, submitted to Meta for review
    (``POST /{WABA_ID}/message_templates``), followed until approved or rejected.

    Outside a citizen's 24-hour window only an APPROVED template may be sent. The body uses
    Meta's numbered parameters ``{{1}}``, ``{{2}}`` …; ``body_examples`` holds one sample per
    parameter, which Meta requires for review.
    """

    class Category(models.TextChoices):
        UTILITY = "utility", _("Utility")
        MARKETING = "marketing", _("Marketing")
        AUTHENTICATION = "authentication", _("Authentication")

    class Status(models.TextChoices):
        # Written in Townhall, not yet submitted (or the submission failed: see status_reason).
        DRAFT = "draft", _("Draft")
        PENDING = "pending", _("In review at Meta")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        PAUSED = "paused", _("Paused by Meta")
        DISABLED = "disabled", _("Disabled by Meta")

    class HeaderFormat(models.TextChoices):
        NONE = "", _("No header")
        TEXT = "text", _("Text")
        IMAGE = "image", _("Image")
        DOCUMENT = "document", _("Document")

    # Meta: lowercase letters, digits and underscores; unique per WABA together with language.
    name = models.CharField(_("name"), max_length=512)
    language = models.CharField(_("language"), max_length=15)
    category = models.CharField(
        _("category"), max_length=16, choices=Category.choices, default=Category.UTILITY
    )
    header_format = models.CharField(
        _("header"), max_length=16, choices=HeaderFormat.choices, blank=True
    )
    header_text = models.CharField(_("header text"), max_length=60, blank=True)
    # Meta reviews a text header's parameter with a sample value.
    header_example = models.CharField(_("example for the header"), max_length=60, blank=True)
    # An image or document header: the public https link of the sample Meta reviews and of
    # the media sent when a send gives no other link (a post sends its own attachment).
    header_media_link = models.URLField(_("header image or document (link)"), blank=True)
    body = models.TextField(_("body"))
    body_examples = models.JSONField(_("examples for the parameters"), default=list, blank=True)
    footer = models.CharField(_("footer"), max_length=60, blank=True)
    # [{"type": "quick_reply", "text": "…"}
    #  | {"type": "url", "text": "Mehr lesen", "url": "https://…/{{1}}", "example": "abc123"}
    #  | {"type": "phone_number", "text": "Anrufen", "phone_number": "+49…"}]
    buttons = models.JSONField(_("buttons"), default=list, blank=True)
    # Meta's time-to-live: a message Meta could not deliver within it is dropped and reported
    # as failed. Empty = Meta's default (30 days for utility). Ranges by category in
    # whatsapp/templates.py (TTL_RANGE_SECONDS).
    message_send_ttl_seconds = models.PositiveIntegerField(
        _("time to live (seconds)"), null=True, blank=True
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    # Meta's rejection reason, or why a submission failed; shown to staff.
    status_reason = models.CharField(_("reason"), max_length=500, blank=True)
    # The id Meta gave the template on submission.
    provider_id = models.CharField(verbose_name=_("WhatsApp message ID"), max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)
    submitted_at = models.DateTimeField(verbose_name=_("submitted at"), null=True, blank=True)
    status_updated_at = models.DateTimeField(
        verbose_name=_("status changed at"), default=timezone.now
    )

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(fields=["name", "language"], name="unique_template_language")
        ]
        permissions = [("manage_templates", _("Can write and submit message templates"))]

    def __str__(self) -> str:
        return f"{self.name} ({self.language}, {self.status})"

    @property
    def is_sendable(self) -> bool:
        return self.status == self.Status.APPROVED

    def to_outbound(
        self,
        *,
        body_parameters: Sequence[str] = (),
        header_parameters: Sequence[str] = (),
        url_suffix: str = "",
        header_link: str = "",
        quick_reply_payloads: Sequence[str] = (),
    ) -> outbound.Template:
        """The send of this template with the given values, checked against its definition;
        raises ``templates.TemplateNotSendable`` (not approved, wrong parameters)."""
        from townhall.whatsapp import templates

        return templates.build_outbound(
            self,
            body_parameters=body_parameters,
            header_parameters=header_parameters,
            url_suffix=url_suffix,
            header_link=header_link,
            quick_reply_payloads=quick_reply_payloads,
        )
