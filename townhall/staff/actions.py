"""Every change to staff accounts goes through these functions."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.db import transaction
from django.http import HttpRequest

from townhall.audit.actions import Action, do_audit, mask_number
from townhall.citizens.models import Citizen
from townhall.staff.subscribers import is_searchable, search_by_number


def do_set_up_staff_user(
    username: str,
    password: str,
    *,
    role: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
) -> tuple[AbstractBaseUser, bool]:
    """Create an active staff member with exactly the role ``role`` (a group of
    ``townhall.staff.roles``), or reactivate them, set a new password and reset the role.

    Never a superuser: the rights come from the role. Returns the user and whether it was
    created. The caller has validated the password.
    """
    user_model = get_user_model()
    with transaction.atomic():
        user, created = user_model.objects.select_for_update().get_or_create(
            **{user_model.USERNAME_FIELD: username},
            defaults={"first_name": first_name, "last_name": last_name, "email": email},
        )
        user.is_active = True
        user.is_staff = True
        user.is_superuser = False
        user.set_password(password)
        user.save(update_fields=["is_active", "is_staff", "is_superuser", "password"])
        user.groups.set([Group.objects.get(name=role)])
    return user, created


def do_search_by_number(
    query: str, *, acting_user: Any, request: HttpRequest | None = None
) -> tuple[list[Citizen], bool]:
    """Find citizens by phone number, and record in the audit log that someone did: a number
    search singles out a person. The log keeps the query masked, never the number."""
    results, has_more = search_by_number(query)
    if is_searchable(query):
        do_audit(
            Action.NUMBER_SEARCHED,
            acting_user=acting_user,
            details={"query": mask_number(query), "results": len(results)},
            request=request,
        )
    return results, has_more
