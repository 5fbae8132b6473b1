"""Citizens who write to or are written to by the city."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ConsentChannel(models.TextChoices):
    """How a citizen (or staff for them) gave, changed or withdrew consent."""

    WHATSAPP_KEYWORD = "whatsapp_keyword", _("WhatsApp keyword")
    WHATSAPP_BUTTON = "whatsapp_button", _("WhatsApp button")
    WEB_FORM = "web_form", _("Web form")
    STAFF = "staff", _("Staff on request")
    # WhatsApp itself told us (e.g. the citizen changed their number).
    WHATSAPP_SYSTEM = "whatsapp_system", _("WhatsApp system notice")
    # No contact for the retention period (settings.RETENTION["FORMER_CITIZEN_DAYS"]).
    RETENTION = "retention", _("Retention period over")


class NotificationMode(models.TextChoices):
    """How an info-channel subscriber wants to be told about normal posts ("the bell").

    Urgent alerts always come at once, whatever the mode.
    """

    ALL = "all", _("Every post at once")
    URGENT_ONLY = "urgent_only", _("Urgent alerts only")
    DIGEST = "digest", _("Daily summary")


class Citizen(models.Model):
    """A person behind one WhatsApp id.

    Subscriptions and consent records hang off this model (see the subscriptions issue);
    the message log joins on ``wa_id``.
    """

    # Digits of the E.164 number without "+", exactly as WhatsApp's wa_id.
    wa_id = models.CharField(verbose_name=_("WhatsApp number"), max_length=32, unique=True)
    # The name the citizen set in their WhatsApp profile (personal data).
    profile_name = models.CharField(verbose_name=_("profile name"), max_length=255, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)
    last_inbound_at = models.DateTimeField(
        verbose_name=_("last message from the citizen at"), null=True, blank=True, db_index=True
    )
    # Language of the bot's messages and the citizen's web pages.
    language = models.CharField(verbose_name=_("language"), max_length=8, default="de")
    # Set when the personal data was erased; the row stays, anonymised, for statistics.
    erased_at = models.DateTimeField(verbose_name=_("erased at"), null=True, blank=True)
    # The citizen confirmed erasure (LÖSCHEN in WhatsApp or on the web page); it runs once
    # the goodbye message has gone out.
    erasure_requested_at = models.DateTimeField(
        verbose_name=_("erasure requested at"), null=True, blank=True
    )
    # Where the erasure was asked for, so the erasure record names it even when the
    # periodic task completes it; set together with ``erasure_requested_at``.
    erasure_requested_channel = models.CharField(
        verbose_name=_("erasure requested via"),
        max_length=20,
        choices=ConsentChannel.choices,
        blank=True,
        default="",
    )
    # The bell: every post, urgent alerts only, or a daily summary of the normal posts.
    notification_mode = models.CharField(
        verbose_name=_("notifications"),
        max_length=12,
        choices=NotificationMode.choices,
        default=NotificationMode.ALL,
    )
    # When the citizen last chose; empty = never chose (the default applies).
    notification_mode_changed_at = models.DateTimeField(
        verbose_name=_("notifications chosen at"), null=True, blank=True
    )

    # Raised to revoke every signed link given out so far (erasure, or on request): links
    # carry the value they were made with (citizens.links).
    link_generation = models.PositiveIntegerField(default=0)
    # Export links carry this count; a download raises it, so each export link works once.
    export_downloads = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("citizen")
        verbose_name_plural = _("citizens")
        permissions = [
            ("search_by_number", "Can search citizens by phone number"),
            ("view_phone_number", "Can see citizens' full phone numbers"),
            ("export_citizen_data", "Can export a citizen's data on request"),
            ("erase_citizen", "Can erase a citizen's data on request"),
            ("view_subscriber_statistics", "Can see the anonymous subscriber numbers"),
        ]

    def __str__(self) -> str:
        return f"Citizen {self.pk}"


class Offering(models.TextChoices):
    """The two things a citizen can subscribe to, each on its own."""

    CHAT = "chat", _("Chat with the mayor's office")
    INFO = "info", _("Info channel")


class Topic(models.Model):
    """A subject of the info channel (urgent alerts, traffic, events, city news)."""

    slug = models.SlugField(verbose_name=_("short name (in links)"), max_length=50, unique=True)
    # Shown as WhatsApp list rows: titles at most 24 characters, descriptions 72.
    name_de = models.CharField(verbose_name=_("name (German)"), max_length=24)
    name_en = models.CharField(verbose_name=_("name (English)"), max_length=24)
    description_de = models.CharField(
        verbose_name=_("description (German)"), max_length=72, blank=True
    )
    description_en = models.CharField(
        verbose_name=_("description (English)"), max_length=72, blank=True
    )
    position = models.PositiveSmallIntegerField(verbose_name=_("position"), default=0)
    is_active = models.BooleanField(verbose_name=_("active"), default=True)

    class Meta:
        verbose_name = _("topic")
        verbose_name_plural = _("topics")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.slug

    def name(self, language: str) -> str:
        return self.name_en if language.startswith("en") else self.name_de

    def description(self, language: str) -> str:
        return self.description_en if language.startswith("en") else self.description_de


class ConsentText(models.Model):
    """A published version of what a citizen agrees to. Never edited once used: publish a
    new version instead, so every consent record points at the exact words agreed to."""

    version = models.CharField(verbose_name=_("version"), max_length=32, unique=True)
    text_de = models.TextField(verbose_name=_("text (German)"))
    text_en = models.TextField(verbose_name=_("text (English)"))
    privacy_url = models.CharField(verbose_name=_("privacy notice link"), max_length=500)
    published_at = models.DateTimeField(verbose_name=_("published at"), default=timezone.now)

    class Meta:
        verbose_name = _("consent text")
        verbose_name_plural = _("consent texts")
        ordering = ["-published_at", "-id"]

    def __str__(self) -> str:
        return self.version

    def text(self, language: str) -> str:
        return self.text_en if language.startswith("en") else self.text_de


class Subscription(models.Model):
    """A citizen's current state for one offering; its history is in ``ConsentRecord``."""

    class State(models.TextChoices):
        # Asked for, waiting for the explicit "Ja, ich stimme zu" (double opt-in).
        PENDING = "pending", _("Waiting for confirmation")
        ACTIVE = "active", _("Active")
        ENDED = "ended", _("Ended")

    citizen = models.ForeignKey(
        Citizen, on_delete=models.CASCADE, related_name="subscriptions", verbose_name=_("citizen")
    )
    offering = models.CharField(verbose_name=_("offering"), max_length=8, choices=Offering.choices)
    state = models.CharField(verbose_name=_("state"), max_length=8, choices=State.choices)
    consent_text = models.ForeignKey(
        ConsentText,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("consent text"),
    )
    requested_at = models.DateTimeField(verbose_name=_("requested at"), default=timezone.now)
    confirmed_at = models.DateTimeField(verbose_name=_("confirmed at"), null=True, blank=True)
    ended_at = models.DateTimeField(verbose_name=_("ended at"), null=True, blank=True)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [
            models.UniqueConstraint(
                fields=["citizen", "offering"], name="one_subscription_per_offering"
            )
        ]
        indexes = [models.Index(fields=["offering", "state"])]

    def __str__(self) -> str:
        return f"{self.offering} {self.state}"


class TopicSubscription(models.Model):
    """Whether a citizen wants one topic of the info channel."""

    citizen = models.ForeignKey(
        Citizen,
        on_delete=models.CASCADE,
        related_name="topic_subscriptions",
        verbose_name=_("citizen"),
    )
    topic = models.ForeignKey(
        Topic, on_delete=models.CASCADE, related_name="subscriptions", verbose_name=_("topic")
    )
    is_active = models.BooleanField(verbose_name=_("active"), default=True)
    updated_at = models.DateTimeField(verbose_name=_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("topic choice")
        verbose_name_plural = _("topic choices")
        constraints = [
            models.UniqueConstraint(fields=["citizen", "topic"], name="one_row_per_citizen_topic")
        ]

    def __str__(self) -> str:
        return f"{self.topic_id} {'on' if self.is_active else 'off'}"


class ConsentRecord(models.Model):
    """Append-only proof of every consent and withdrawal (DSGVO Art. 7(1)).

    Rows are never updated or deleted; erasure anonymises the citizen they point to.
    """

    class Kind(models.TextChoices):
        REQUESTED = "requested", _("Asked to subscribe")
        GRANTED = "granted", _("Consent given")
        WITHDRAWN = "withdrawn", _("Consent withdrawn")
        TOPIC_ADDED = "topic_added", _("Topic added")
        TOPIC_REMOVED = "topic_removed", _("Topic removed")
        DATA_EXPORTED = "data_exported", _("Data exported")
        ERASED = "erased", _("Personal data erased")
        NOTIFICATIONS_CHANGED = "notifications", _("Notifications changed")
        # The citizen said they are under 16: nothing was subscribed (DSGVO Art. 8).
        UNDER_AGE = "under_age", _("Under 16: a parent must agree")
        # WhatsApp reported a new number; everything moved to it, the old one is erased.
        NUMBER_CHANGED = "number_changed", _("WhatsApp number changed")
        LINKS_REVOKED = "links_revoked", _("Links revoked")

    # Defined above Citizen, which stores it too; callers keep saying ConsentRecord.Channel.
    Channel = ConsentChannel

    citizen = models.ForeignKey(
        Citizen, on_delete=models.PROTECT, related_name="consent_records", verbose_name=_("citizen")
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=16, choices=Kind.choices)
    offering = models.CharField(
        verbose_name=_("offering"), max_length=8, choices=Offering.choices, blank=True
    )
    topic = models.ForeignKey(
        Topic,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("topic"),
    )
    consent_text = models.ForeignKey(
        ConsentText,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("consent text"),
    )
    # The mode chosen, for NOTIFICATIONS_CHANGED records.
    notification_mode = models.CharField(
        verbose_name=_("notifications"),
        max_length=12,
        choices=NotificationMode.choices,
        blank=True,
        default="",
    )
    channel = models.CharField(verbose_name=_("channel"), max_length=20, choices=Channel.choices)
    # DSGVO Art. 8: True = the citizen confirmed being 16 or older with this consent, False =
    # they said they are younger; None = not asked (withdrawals, records before 2026-12).
    age_confirmed = models.BooleanField(
        verbose_name=_("confirmed 16 or older"), null=True, blank=True
    )
    acting_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("staff member"),
    )
    created_at = models.DateTimeField(
        verbose_name=_("created at"), default=timezone.now, db_index=True
    )
    # A consent given after "START <code>" from a shared post's invitation: the post's code
    # (channel.Post.referral_code), so sign-ups are counted per post. Nothing about who shared.
    referral_code = models.CharField(
        verbose_name=_("referral code"), max_length=8, blank=True, db_index=True
    )

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.offering}"


class BotSession(models.Model):
    """Where a citizen is in a multi-step WhatsApp flow; survives restarts, expires."""

    class Step(models.TextChoices):
        CONFIRM_CONSENT = "confirm_consent", "confirm consent"
        CHOOSE_TOPICS = "choose_topics", "choose topics"
        CONFIRM_ERASURE = "confirm_erasure", "confirm erasure"

    citizen = models.OneToOneField(
        Citizen, on_delete=models.CASCADE, related_name="bot_session", verbose_name=_("citizen")
    )
    step = models.CharField(verbose_name=_("step"), max_length=20, choices=Step.choices)
    data = models.JSONField(verbose_name=_("data"), default=dict)
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    updated_at = models.DateTimeField(verbose_name=_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("bot session")
        verbose_name_plural = _("bot sessions")

    def __str__(self) -> str:
        return self.step
