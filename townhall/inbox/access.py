"""Who may use the shared inbox and what they may do there.

Every permission check of an inbox view goes through one of these functions. Whoever holds
``inbox.use_inbox`` (the roles Büro and Bürgermeister/in) may read and work on all
conversations; the statistics need ``inbox.view_metrics``. Narrower rules (e.g. a team only
seeing its own conversations) belong here, without touching the views.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from townhall.core.permissions import has_permission
from townhall.inbox.models import Conversation

USE_INBOX_PERMISSION = "inbox.use_inbox"
METRICS_PERMISSION = "inbox.view_metrics"

InboxUser = AbstractBaseUser | AnonymousUser


def can_use_inbox(user: InboxUser) -> bool:
    """Whether ``user`` may open the inbox at all (for navigation links and badges)."""
    return has_permission(user, USE_INBOX_PERMISSION)


def access_inbox(user: InboxUser) -> None:
    """Allow reading the list of conversations, or raise ``PermissionDenied``."""
    if not can_use_inbox(user):
        raise PermissionDenied


def access_inbox_metrics(user: InboxUser) -> None:
    """Allow reading the inbox statistics (no personal data), or raise ``PermissionDenied``."""
    if not has_permission(user, METRICS_PERMISSION):
        raise PermissionDenied


def access_conversation(
    user: InboxUser, conversation_id: int, *, lock: bool = False
) -> Conversation:
    """The conversation if ``user`` may read it and act on it, with citizen, assignee and team.

    Raises ``PermissionDenied`` for users without access and ``Http404`` for unknown ids
    (only after the permission check, so outsiders cannot probe which ids exist). With
    ``lock`` the row is locked; the caller must be inside a transaction.
    """
    access_inbox(user)
    conversations = Conversation.objects.select_related("citizen", "assignee", "team")
    if lock:
        # Only the conversation row: PostgreSQL cannot lock the nullable side of the joins.
        conversations = conversations.select_for_update(of=("self",))
    try:
        return conversations.get(pk=conversation_id)
    except Conversation.DoesNotExist:
        raise Http404(_("No such conversation.")) from None


def assignable_users() -> QuerySet[Any]:
    """The staff members a conversation may be assigned to: those who may use the inbox."""
    app_label, codename = USE_INBOX_PERMISSION.split(".")
    granted = Q(
        groups__permissions__codename=codename,
        groups__permissions__content_type__app_label=app_label,
    ) | Q(
        user_permissions__codename=codename,
        user_permissions__content_type__app_label=app_label,
    )
    return (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .filter(granted | Q(is_superuser=True))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )
