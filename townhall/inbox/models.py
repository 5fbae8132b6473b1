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
    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="inbox_teams", blank=True
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Label(models.Model):
    name = models.CharField(max_length=50, unique=True)
    # A CSS colour for the chip, e.g. "#0b5cad".
    color = models.CharField(max_length=20, default="#5b6b7f")

    class Meta:
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

    citizen = models.OneToOneField(Citizen, on_delete=models.CASCADE, related_name="conversation")
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    labels = models.ManyToManyField(Label, blank=True, related_name="conversations")
    # The citizen had left the chat offering when this message came (shown as a flag).
    is_unsubscribed = models.BooleanField(default=False)

    last_message_at = models.DateTimeField(default=timezone.now)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_message_preview = models.CharField(max_length=200, blank=True)
    last_message_direction = models.CharField(max_length=3, blank=True)
    unread_count = models.PositiveIntegerField(default=0)

    # The current episode: since the conversation was last opened or reopened.
    opened_at = models.DateTimeField(default=timezone.now)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Key of the closed period (outside office hours) that already got its auto-reply.
    auto_replied_period = models.CharField(max_length=40, blank=True)

    class Meta:
        permissions = [
            ("use_inbox", _("Can read and answer the conversations of the inbox")),
            ("view_metrics", _("Can see the inbox statistics")),
        ]
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

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
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

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict)
    # The conversation's team when it happened: the metrics credit the team that answered,
    # not the one the conversation was moved to later.
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # For first responses and resolutions: seconds of office time since (re)opening.
    office_seconds = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["kind", "created_at"])]

    def __str__(self) -> str:
        return self.kind


class CannedResponse(models.Model):
    """A prepared answer; ``{citizen_name}`` and ``{staff_name}`` are filled in."""

    title = models.CharField(max_length=100)
    body = models.TextField()

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class WeeklyHours(models.Model):
    """One opening interval on a weekday (0 = Monday); several per day are allowed."""

    weekday = models.PositiveSmallIntegerField()
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["weekday", "opens"]

    def __str__(self) -> str:
        return f"{self.weekday} {self.opens}-{self.closes}"


class ClosedDay(models.Model):
    """A day the office is closed besides public holidays (e.g. Rosenmontag, staff outing)."""

    date = models.DateField(unique=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return str(self.date)
