"""Every change to staff accounts goes through these functions."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction


def do_set_up_superuser(
    username: str, password: str, *, display_name: str = ""
) -> tuple[AbstractBaseUser, bool]:
    """Create an active staff superuser, or reactivate it and set a new password.

    Returns the user and whether it was created. The caller has validated the password.
    """
    user_model = get_user_model()
    with transaction.atomic():
        user, created = user_model.objects.select_for_update().get_or_create(
            **{user_model.USERNAME_FIELD: username},
            defaults={"first_name": display_name} if display_name else {},
        )
        user.is_active = True
        user.is_staff = True
        user.is_superuser = True
        user.set_password(password)
        user.save(update_fields=["is_active", "is_staff", "is_superuser", "password"])
    return user, created
