"""Who may see and change the city's settings. Every settings view asks one of these."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied

# Administrators (the roles' "Administration" group) get this permission.
CHANGE_PERMISSION = "citysettings.change_citysettings"
STATISTICS_PERMISSION = "citysettings.view_statistics"


def is_staff(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and getattr(user, "is_staff", False))


def can_change_settings(user: Any) -> bool:
    return is_staff(user) and user.has_perm(CHANGE_PERMISSION)


def access_settings(user: Any) -> None:
    """Allow changing the city's settings, or raise ``PermissionDenied``."""
    if not can_change_settings(user):
        raise PermissionDenied


def access_office_hours(user: Any) -> None:
    """Every staff member may read the office hours (they answer citizens about them)."""
    if not is_staff(user):
        raise PermissionDenied
