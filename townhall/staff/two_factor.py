"""Two-factor login with an authenticator app (TOTP, django-otp): who needs it, who has it."""

from __future__ import annotations

from typing import Any

from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

DEVICE_NAME = "Authenticator"


def has_two_factor_device(user: Any) -> bool:
    return bool(user.is_authenticated and user_has_device(user, confirmed=True))


def requires_two_factor(user: Any) -> bool:
    """Whether one of the user's roles requires a second factor (set in the admin)."""
    return bool(
        user.is_authenticated and user.groups.filter(policy__requires_two_factor=True).exists()
    )


def pending_device(user: Any) -> TOTPDevice:
    """The user's authenticator being set up: unconfirmed until its first code is right."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device
