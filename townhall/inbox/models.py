"""The shared inbox of the mayor's office: conversations with citizens who use the chat.

One ``Conversation`` per citizen; it cycles through its states (new → open → waiting →
resolved → reopened on the next message). Messages themselves live in the message log
(``townhall.whatsapp.models.Message``, joined on ``wa_id``); the conversation keeps the few
denormalised fields the inbox list needs, so the list is one query however long the history.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from townhall.citizens.models import Citizen


class Team(models.Model):
    name = models.CharField(verbose_name=_("name"), max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="inbox_teams",
        blank=True,
        verbose_name=_("members"),
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Label(models.Model):
    name = models.CharField(verbose_name=_("name"), max_length=50, unique=True)
    # A CSS colour for the chip, e.g. "#0b5cad".
    color = models.CharField(verbose_name=_("colour"), max_length=20, default="#5b6b7f")

    class Meta:
        verbose_name = _("label")
        verbose_name_plural = _("labels")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    class State(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", _("Open")
        WAITING = "waiting", _("Waiting for citizen")
        RESOLVED = "resolved", _("Resolved")

    class Priority(models.IntegerChoices):
        LOW = 0, _("Low")
        NORMAL = 1, _("Normal")
        HIGH = 2, _("High")
        URGENT = 3, _("Urgent")

    citizen = models.OneToOneField(
        Citizen, on_delete=models.CASCADE, related_name="conversation", verbose_name=_("citizen")
    )
    state = models.CharField(
        verbose_name=_("state"), max_length=10, choices=State.choices, default=State.NEW
    )
    priority = models.PositiveSmallIntegerField(
        verbose_name=_("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
        verbose_name=_("assigned to"),
    )
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
        verbose_name=_("team"),
    )
    labels = models.ManyToManyField(
        Label, blank=True, related_name="conversations", verbose_name=_("labels")
    )
    # The citizen had left the chat offering when this message came (shown as a flag).
    is_unsubscribed = models.BooleanField(verbose_name=_("not subscribed"), default=False)

    last_message_at = models.DateTimeField(verbose_name=_("last message at"), default=timezone.now)
    last_inbound_at = models.DateTimeField(
        verbose_name=_("last message from the citizen at"), null=True, blank=True
    )
    last_message_preview = models.CharField(
        verbose_name=_("last message"), max_length=200, blank=True
    )
    last_message_direction = models.CharField(
        verbose_name=_("direction of the last message"), max_length=3, blank=True
    )
    unread_count = models.PositiveIntegerField(verbose_name=_("unread"), default=0)

    # The current episode: since the conversation was last opened or reopened.
    opened_at = models.DateTimeField(verbose_name=_("opened at"), default=timezone.now)
    first_response_at = models.DateTimeField(
        verbose_name=_("first response at"), null=True, blank=True
    )
    resolved_at = models.DateTimeField(verbose_name=_("resolved at"), null=True, blank=True)
    # Key of the closed period (outside office hours) that already got its auto-reply.
    auto_replied_period = models.CharField(
        verbose_name=_("auto-reply sent for"), max_length=40, blank=True
    )

    class Meta:
        permissions = [
            ("use_inbox", _("Can read and answer the conversations of the inbox")),
            ("view_metrics", _("Can see the inbox statistics")),
        ]
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        # The lists show "everything but resolved" by default: about a tenth of the table
        # in a city that has used the inbox for years. Partial indexes over that tenth let
        # each default filter read only its page (see bench/README.md for the measurements).
        indexes = [
            models.Index(
                fields=["-last_message_at", "-id"],
                condition=~Q(state="resolved"),
                name="inbox_conv_active_recent",
            ),
            # With the state included, the sidebar's and the backlog's counts per state are
            # index-only scans (PostgreSQL; other databases ignore ``include``).
            models.Index(
                fields=["assignee", "-last_message_at", "-id"],
                include=["state"],
                condition=~Q(state="resolved"),
                name="inbox_conv_active_assignee",
            ),
            models.Index(
                fields=["team", "-last_message_at", "-id"],
                include=["state"],
                condition=~Q(state="resolved"),
                name="inbox_conv_active_team",
            ),
            # An explicit state filter, resolved included.
            models.Index(fields=["state", "-last_message_at", "-id"], name="inbox_conv_state"),
            # The navigation badge sums only conversations with something unread.
            models.Index(
                fields=["unread_count"],
                condition=Q(unread_count__gt=0),
                name="inbox_conv_unread",
            ),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.pk} ({self.state})"


class Note(models.Model):
    """An internal note on a conversation. Never sent to the citizen."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="notes", verbose_name=_("conversation")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("author"),
    )
    text = models.TextField(verbose_name=_("text"))
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Note {self.pk}"


class ConversationEvent(models.Model):
    """What happened to a conversation, for the history and the metrics."""

    class Kind(models.TextChoices):
        OPENED = "opened", _("Opened")
        REOPENED = "reopened", _("Reopened")
        FIRST_RESPONSE = "first_response", _("First response")
        ASSIGNED = "assigned", _("Assigned")
        STATE_CHANGED = "state_changed", _("State changed")
        RESOLVED = "resolved", _("Resolved")
        AUTO_REPLY = "auto_reply", _("Auto-reply sent")
        TEMPLATE_OFFERED = "template_offered", _("Reply failed: template needed")

    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        related_name="events",
        verbose_name=_("conversation"),
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("staff member"),
    )
    data = models.JSONField(verbose_name=_("data"), default=dict)
    # The conversation's team when it happened: the metrics credit the team that answered,
    # not the one the conversation was moved to later.
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("team"),
    )
    # For first responses and resolutions: seconds of office time since (re)opening.
    office_seconds = models.PositiveIntegerField(
        verbose_name=_("office time (seconds)"), null=True, blank=True
    )
    created_at = models.DateTimeField(
        verbose_name=_("created at"), default=timezone.now, db_index=True
    )

    class Meta:
        verbose_name = _("conversation event")
        verbose_name_plural = _("conversation events")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["kind", "created_at"])]

    def __str__(self) -> str:
        return self.kind


class CannedResponse(models.Model):
    """A prepared answer; ``{citizen_name}`` and ``{staff_name}`` are filled in."""

    title = models.CharField(verbose_name=_("title"), max_length=100)
    body = models.TextField(verbose_name=_("content"))

    class Meta:
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class WeeklyHours(models.Model):
    """One opening interval on a weekday (0 = Monday); several per day are allowed."""

    weekday = models.PositiveSmallIntegerField(verbose_name=_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(verbose_name=_("opens"))
    closes = models.TimeField(verbose_name=_("closes"))

    class Meta:
        verbose_name = _("opening time")
        verbose_name_plural = _("opening times")
        ordering = ["weekday", "opens"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class ClosedDay(models.Model):
    """A day the office is closed besides public holidays (e.g. Rosenmontag, staff outing)."""

    date = models.DateField(verbose_name=_("date"), unique=True)
    reason = models.CharField(verbose_name=_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("closed day")
        verbose_name_plural = _("closed days")
        ordering = ["date"]

    def __str__(self) -> str:
        return str(self.date)
