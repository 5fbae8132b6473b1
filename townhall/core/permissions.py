"""The one test of "may this person do that" that every app's ``access`` module uses.

Rights come from Django permissions, granted through the roles (groups) that
``townhall.staff.roles`` defines; see docs/permissions.md for who may open which page.
"""

from __future__ import annotations

from typing import Any


def is_active_staff(user: Any) -> bool:
    """A signed-in, active member of the city's staff (a role's member has ``is_staff``)."""
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and getattr(user, "is_staff", False)
    )


def has_permission(user: Any, permission: str) -> bool:
    """Whether an active staff ``user`` holds ``permission`` (superusers hold all).

    A custom user model without ``PermissionsMixin`` has no permissions at all.
    """
    has_perm = getattr(user, "has_perm", None)
    return is_active_staff(user) and has_perm is not None and bool(has_perm(permission))
