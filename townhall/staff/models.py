from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _


class RolePolicy(models.Model):
    """Login rules of a role (a Django group), set by the administration in the admin."""

    group = models.OneToOneField(
        Group,
        verbose_name=_("role"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="policy",
    )
    requires_two_factor = models.BooleanField(
        _("two-factor login required"),
        default=False,
        help_text=_("Members must set up an authenticator app and enter its code at every login."),
    )

    class Meta:
        verbose_name = _("login rule of a role")
        verbose_name_plural = _("login rules of roles")

    def __str__(self) -> str:
        return str(self.group)
