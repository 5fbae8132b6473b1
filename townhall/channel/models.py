"""The info channel: posts the city broadcasts to its subscribers.

- ``Post``: one announcement (news, event tip, urgent alert) with its audience, schedule,
  approval and sending state; ``PostVersion`` holds its text per language (German required).
- ``PostEvent``: who did what to a post and when (drafted, approved, sent back, sent …);
  append-only, the approval trail.
- ``PostDelivery``: one row per citizen a post was queued for. The unique (post, citizen)
  pair is what makes "each citizen receives a post at most once" hold across crashes and
  retries; ``message`` links to the outbound message whose status is the delivery's status.
- ``Poll``, ``PollOption``, ``PollAnswer``: a question a post can carry (2–10 options, single
  choice, optional closing time) and each citizen's one answer (a later tap changes it). The
  question and the options are German, with optional English texts for the post's English
  version; a missing English text falls back to the German one (``poll_text``).
- ``MessagePrice``: the editable rate card for the cost estimate (Meta's prices are data).
"""

import secrets
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from townhall.citizens.keywords import REFERRAL_ALPHABET, REFERRAL_CODE_LENGTH
from townhall.citizens.models import Citizen, Topic
from townhall.whatsapp.models import Message, MessageTemplate

PUBLIC_ID_LENGTH = 8


def new_public_id() -> str:
    # Short, unguessable before publication, readable in a link: /p/<public_id>/
    return secrets.token_urlsafe(6)[:PUBLIC_ID_LENGTH]


def new_referral_code() -> str:
    """The code of a post's invitation link ("START <code>"), as the bot reads it."""
    while True:
        code = "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))
        if any(character.isdigit() for character in code):
            return code


class Post(models.Model):
    class Kind(models.TextChoices):
        NORMAL = "normal", _("Normal")
        URGENT = "urgent", _("Urgent alert")

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        IN_REVIEW = "in_review", _("Waiting for approval")
        CHANGES_REQUESTED = "changes_requested", _("Sent back")
        # Approved; goes out at send_at (or at once when send_at is empty / in the past).
        APPROVED = "approved", _("Approved")
        SENDING = "sending", _("Sending")
        PAUSED = "paused", _("Paused")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")

    public_id = models.CharField(
        verbose_name=_("public ID"), max_length=16, unique=True, default=new_public_id
    )
    # "START <referral_code>" in the public page's invitation link: sign-ups per post.
    referral_code = models.CharField(
        verbose_name=_("referral code"), max_length=8, unique=True, default=new_referral_code
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.NORMAL)
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.DRAFT)
    # No topic = every info-channel subscriber.
    topics = models.ManyToManyField(
        Topic, blank=True, related_name="posts", verbose_name=_("topics")
    )
    # Sent with the post's content as parameters to citizens whose 24-hour window is closed.
    template = models.ForeignKey(
        MessageTemplate,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="posts",
        verbose_name=_("template"),
    )
    attachment = models.FileField(_("image or document"), upload_to="channel/%Y/%m/", blank=True)
    # Empty = as soon as approved.
    send_at = models.DateTimeField(_("send at"), null=True, blank=True)
    # How long the post is worth delivering (Meta's template time-to-live); empty = Meta's default.
    valid_for_seconds = models.PositiveIntegerField(_("valid for (seconds)"), null=True, blank=True)

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("author"),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(verbose_name=_("changed at"), default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("approved by"),
    )
    approved_at = models.DateTimeField(verbose_name=_("approved at"), null=True, blank=True)
    # The reviewer's last comment when sending a post back.
    review_comment = models.TextField(verbose_name=_("review comment"), blank=True)
    # When fan-out started and when the last delivery was handed over / the post ended.
    sending_started_at = models.DateTimeField(
        verbose_name=_("sending started at"), null=True, blank=True
    )
    finished_at = models.DateTimeField(verbose_name=_("finished at"), null=True, blank=True)
    # Set when the post first goes out; the public archive shows published posts only.
    published_at = models.DateTimeField(
        verbose_name=_("published at"), null=True, blank=True, db_index=True
    )
    # An urgent alert sent without prior approval waits for a reviewer's look afterwards.
    needs_review_after = models.BooleanField(
        verbose_name=_("needs approval after changes"), default=False
    )
    # Fan-out progress: citizens are taken in id order; everyone up to this id has been
    # decided (queued or skipped), so a restarted fan-out continues after it.
    fan_out_cursor = models.BigIntegerField(verbose_name=_("fan-out position"), default=0)
    fan_out_finished_at = models.DateTimeField(
        verbose_name=_("fan-out finished at"), null=True, blank=True
    )
    # Citizens of the audience whose window was closed while the post had no approved
    # template: they cannot be reached and got nothing.
    skipped_without_template = models.PositiveIntegerField(
        verbose_name=_("skipped (no template)"), default=0
    )
    # Approved to go out over several days when it needs more templates than the messaging
    # limit allows today: the rest is queued for after the 24-hour window.
    send_rest_after_limit = models.BooleanField(
        verbose_name=_("send the rest after the limit"), default=False
    )
    # Template recipients queued for a later day because of the messaging limit.
    deferred_for_limit = models.PositiveIntegerField(
        verbose_name=_("deferred by the limit"), default=0
    )

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        ordering = ["-created_at", "-id"]
        permissions = [
            ("approve_post", _("Can approve posts of the info channel")),
            ("send_urgent", _("Can send urgent alerts without prior approval")),
        ]
        indexes = [models.Index(fields=["state", "send_at"])]

    def __str__(self) -> str:
        return f"Post {self.pk} ({self.state})"


class PostVersion(models.Model):
    """The post in one language; citizens get the version of their language, else German."""

    post = models.ForeignKey(
        Post, on_delete=models.CASCADE, related_name="versions", verbose_name=_("post")
    )
    language = models.CharField(_("language"), max_length=8)
    title = models.CharField(_("title"), max_length=120)
    # WhatsApp formatting: *bold*, _italic_, ~strike~, links.
    text = models.TextField(_("text"))

    class Meta:
        verbose_name = _("language version")
        verbose_name_plural = _("language versions")
        constraints = [
            models.UniqueConstraint(fields=["post", "language"], name="unique_post_language")
        ]

    def __str__(self) -> str:
        return f"{self.post_id} {self.language}"


class PostEvent(models.Model):
    """One step in a post's life, with who and when. Never edited or deleted."""

    class Action(models.TextChoices):
        DRAFTED = "drafted", _("drafted")
        EDITED = "edited", _("edited")
        SUBMITTED = "submitted", _("submitted for approval")
        APPROVED = "approved", _("approved")
        CHANGES_REQUESTED = "changes_requested", _("sent back")
        URGENT_SENT = "urgent_sent", _("sent as urgent alert without prior approval")
        REVIEWED_AFTER = "reviewed_after", _("reviewed after sending")
        SENDING_STARTED = "sending_started", _("sending started")
        HELD_QUIET_HOURS = "held_quiet_hours", _("held for quiet hours")
        HELD_MESSAGING_LIMIT = "held_messaging_limit", _("held: messaging limit reached")
        PAUSED = "paused", _("paused")
        RESUMED = "resumed", _("resumed")
        CANCELLED = "cancelled", _("cancelled")
        FINISHED = "finished", _("all messages handed over")

    post = models.ForeignKey(
        Post, on_delete=models.CASCADE, related_name="events", verbose_name=_("post")
    )
    action = models.CharField(verbose_name=_("action"), max_length=20, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("staff member"),
    )
    comment = models.TextField(verbose_name=_("comment"), blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("post event")
        verbose_name_plural = _("post events")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.post_id} {self.action}"


class PostDelivery(models.Model):
    """The post queued for one citizen: at most one per (post, citizen)."""

    post = models.ForeignKey(
        Post, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("post")
    )
    citizen = models.ForeignKey(
        Citizen, on_delete=models.CASCADE, related_name="post_deliveries", verbose_name=_("citizen")
    )
    message = models.OneToOneField(
        Message,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="post_delivery",
        verbose_name=_("message"),
    )
    language = models.CharField(verbose_name=_("language"), max_length=8)
    # True when the citizen's window was closed and the post went as its template.
    as_template = models.BooleanField(verbose_name=_("sent as template"), default=False)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(fields=["post", "citizen"], name="unique_post_delivery")
        ]

    def __str__(self) -> str:
        return f"{self.post_id} → {self.citizen_id}"


# WhatsApp's limits for the options: a reply button title has at most 20 characters (polls of
# up to three options go as buttons), a list row title at most 24, a list at most 10 rows.
POLL_MIN_OPTIONS = 2
POLL_MAX_OPTIONS = 10
POLL_BUTTONS_MAX_OPTIONS = 3
POLL_BUTTON_TITLE_MAX_CHARS = 20
POLL_ROW_TITLE_MAX_CHARS = 24
POLL_QUESTION_MAX_CHARS = 200
# The language of a poll's optional second texts (``question_en``, ``title_en``).
POLL_SECOND_LANGUAGE = "en"


def poll_text_language(english: str, language: str) -> str:
    """The language a poll's text is shown in for ``language``: English when asked for and
    written, else German (the same fallback as the post's versions, per text)."""
    return POLL_SECOND_LANGUAGE if language == POLL_SECOND_LANGUAGE and english else "de"


def poll_text(german: str, english: str, language: str) -> str:
    """A poll's text in ``language`` (see ``poll_text_language``)."""
    return english if poll_text_language(english, language) == POLL_SECOND_LANGUAGE else german


class Poll(models.Model):
    """The question a post carries; answered with a tap on a button, list row or template
    quick reply whose id is ``poll:<poll id>:<option position>``."""

    post = models.OneToOneField(Post, on_delete=models.CASCADE, related_name="poll")
    question = models.CharField(_("question"), max_length=POLL_QUESTION_MAX_CHARS)
    # For citizens who get the post's English version; empty = the German question.
    question_en = models.CharField(
        _("question (English)"), max_length=POLL_QUESTION_MAX_CHARS, blank=True
    )
    # Empty = open until closed by hand. Taps at or after this instant are refused politely.
    closes_at = models.DateTimeField(_("closes at"), null=True, blank=True)
    results_sent_at = models.DateTimeField(null=True, blank=True)
    results_sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("poll")
        verbose_name_plural = _("polls")

    def __str__(self) -> str:
        return f"Poll {self.pk} of post {self.post_id}"

    def is_closed_at(self, instant: datetime) -> bool:
        return self.closes_at is not None and instant >= self.closes_at

    def question_in(self, language: str) -> str:
        return poll_text(self.question, self.question_en, language)


class PollOption(models.Model):
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="options")
    # 1, 2, … in the order staff wrote them; the number on the template's buttons.
    position = models.PositiveSmallIntegerField()
    title = models.CharField(_("option"), max_length=POLL_ROW_TITLE_MAX_CHARS)
    # Empty = the German title. The position, not the title, identifies the option.
    title_en = models.CharField(
        _("option (English)"), max_length=POLL_ROW_TITLE_MAX_CHARS, blank=True
    )

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["poll", "position"], name="unique_poll_option")
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.title}"

    def title_in(self, language: str) -> str:
        return poll_text(self.title, self.title_en, language)


class PollAnswer(models.Model):
    """A citizen's answer to a poll: one per (poll, citizen); a later tap changes it."""

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="answers")
    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="poll_answers")
    option = models.ForeignKey(PollOption, on_delete=models.CASCADE, related_name="answers")
    # The citizen's language when answering (for the results message and the export).
    language = models.CharField(max_length=8)
    # When the citizen tapped (WhatsApp's timestamp): first, and the tap that counts now.
    first_answered_at = models.DateTimeField()
    answered_at = models.DateTimeField()
    changes = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["poll", "citizen"], name="unique_poll_answer")
        ]
        indexes = [models.Index(fields=["poll", "option"])]

    def __str__(self) -> str:
        return f"{self.poll_id} {self.citizen_id} → {self.option_id}"


class PostLinkOpen(models.Model):
    """How often the post's public page was opened on a day: a counter, nothing else (no
    cookie, no address, no browser); bots and link-preview fetchers are not counted."""

    post = models.ForeignKey(
        Post, on_delete=models.CASCADE, related_name="link_opens", verbose_name=_("post")
    )
    day = models.DateField(_("day"))
    count = models.PositiveIntegerField(_("link opens"), default=0)

    class Meta:
        verbose_name = _("link opens of a day")
        verbose_name_plural = _("link opens")
        constraints = [
            models.UniqueConstraint(fields=["post", "day"], name="one_open_counter_per_post_day")
        ]

    def __str__(self) -> str:
        return f"{self.post_id} {self.day}: {self.count}"


class MessagePrice(models.Model):
    """One line of the rate card: Meta's price per delivered message of a pricing category
    to numbers of one market, valid from a date. Editable, because Meta changes its prices
    and its rules: which categories are free inside the customer service window, and how many
    messages a month are free, are columns here, not code (see ``channel.pricing``)."""

    class Category(models.TextChoices):
        MARKETING = "marketing", _("Marketing template")
        UTILITY = "utility", _("Utility template")
        AUTHENTICATION = "authentication", _("Authentication template")
        # Free text (and media) inside the citizen's 24-hour window.
        SERVICE = "service", _("Service message (free text)")

    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    # ISO 3166 alpha-2 (e.g. "DE"); empty = every other market.
    country = models.CharField(_("country"), max_length=2, blank=True)
    price = models.DecimalField(_("price per message"), max_digits=8, decimal_places=4)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    valid_from = models.DateField(_("valid from"))
    # Meta's rule for this category from valid_from: e.g. utility templates delivered inside
    # an open customer service window were free until 30 September 2026.
    charged_inside_window = models.BooleanField(
        _("charged inside the 24-hour window"), default=True
    )
    # Messages of this category that are free each calendar month (per business number),
    # e.g. 1,000 service messages from October 2026; 0 = none.
    free_per_month = models.PositiveIntegerField(_("free messages per month"), default=0)
    # Where the figure comes from (e.g. Meta's rate card of that date).
    source = models.CharField(_("source"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("message price")
        verbose_name_plural = _("message prices")
        ordering = ["category", "country", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["category", "country", "valid_from"], name="unique_price_per_date"
            )
        ]

    def __str__(self) -> str:
        return f"{self.category} {self.country or '*'} {self.price} {self.currency}"


class Digest(models.Model):
    """The daily summary of one city date: the normal posts published in its period go, as
    one message each, to the citizens who chose the summary. One row per day (unique), so a
    second run of the periodic task, or a restarted worker, continues it instead of
    starting another; citizens are taken in id order after ``cursor``."""

    day = models.DateField(unique=True)
    # Posts published in (period_start, period_end]: from the previous day's summary time
    # to this day's, so every post is in exactly one summary.
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    started_at = models.DateTimeField(default=timezone.now)
    cursor = models.BigIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    post_count = models.PositiveIntegerField(default=0)
    # Window closed and no approved summary template: they got nothing.
    skipped_without_template = models.PositiveIntegerField(default=0)
    # Window closed and Meta's messaging limit used up (by posts and alerts first): a
    # summary is not worth a refused template or holding the next day's posts back.
    skipped_messaging_limit = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"Digest {self.day}"


class DigestDelivery(models.Model):
    """The summary of one day queued for one citizen: at most one per (digest, citizen)."""

    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="deliveries")
    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="digest_deliveries")
    message = models.OneToOneField(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="digest_delivery"
    )
    # The posts the summary listed, in order.
    post_ids = models.JSONField(default=list)
    language = models.CharField(max_length=8)
    as_template = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["digest", "citizen"], name="unique_digest_delivery")
        ]

    def __str__(self) -> str:
        return f"{self.digest_id} → {self.citizen_id}"
