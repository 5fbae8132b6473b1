"""The audit log: who did what, when. Append-only, and never personal data in clear.

An entry names its target by type and id (a conversation id, a post id, a citizen id),
never by a message text or a phone number; a number search keeps only a masked form of
the query. Rows cannot be changed or deleted through the ORM or the admin.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from townhall.core import clock


class AuditLogIsAppendOnly(Exception):
    """An audit entry was about to be changed or deleted."""


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AuditLogIsAppendOnly("audit entries cannot be changed")

    def delete(self) -> NoReturn:
        raise AuditLogIsAppendOnly("audit entries cannot be deleted")


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        LOGIN = "login", _("Logged in")
        LOGIN_FAILED = "login_failed", _("Login failed")
        LOCKED_OUT = "locked_out", _("Locked out after failed logins")
        LOGOUT = "logout", _("Logged out")
        SESSION_EXPIRED = "session_expired", _("Session ended after inactivity")
        TWO_FACTOR_ENABLED = "two_factor_enabled", _("Two-factor login set up")
        TWO_FACTOR_FAILED = "two_factor_failed", _("Wrong two-factor code")
        PASSWORD_RESET_REQUESTED = "password_reset_requested", _("Password reset requested")
        PASSWORD_RESET = "password_reset", _("Password set by reset link")
        ROLES_CHANGED = "roles_changed", _("Roles or rights of a user changed")
        ROLE_PERMISSIONS_CHANGED = "role_permissions_changed", _("Rights of a role changed")
        SETTINGS_CHANGED = "settings_changed", _("Settings changed")
        POST_DRAFTED = "post_drafted", _("Post drafted")
        POST_SUBMITTED = "post_submitted", _("Post submitted for approval")
        POST_APPROVED = "post_approved", _("Post approved")
        POST_RETURNED = "post_returned", _("Post sent back to its author")
        POST_SENT = "post_sent", _("Post sending started")
        POST_CANCELLED = "post_cancelled", _("Post cancelled, paused or resumed")
        REPLY_SENT = "reply_sent", _("Reply sent")
        DATA_EXPORTED = "data_exported", _("Citizen's data exported")
        CITIZEN_ERASED = "citizen_erased", _("Citizen's data erased")
        NUMBER_SEARCHED = "number_searched", _("Citizens searched by phone number")
        AUDIT_LOG_EXPORTED = "audit_log_exported", _("Audit log exported")

    created_at = models.DateTimeField(_("when"), default=clock.now, db_index=True)
    # Kept when the account is deleted (SET_NULL); ``actor_name`` still says who it was.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(_("user name"), max_length=150, blank=True)
    action = models.CharField(_("what"), max_length=40, choices=Action.choices, db_index=True)
    target_type = models.CharField(_("object type"), max_length=60, blank=True)
    target_id = models.CharField(_("object id"), max_length=64, blank=True)
    # Ids, field names, counts, masked values: never texts or phone numbers (see actions).
    details = models.JSONField(_("details"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]
        # Only "view": no role is ever granted a right to change or delete entries.
        default_permissions = ("view",)
        indexes = [models.Index(fields=["actor", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditLogIsAppendOnly("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditLogIsAppendOnly("audit entries cannot be deleted")
