"""Signed, expiring links that let a citizen act without a password (preferences, export).

The token carries only the citizen's id; it is signed with SECRET_KEY and a per-purpose
salt, so a preferences link cannot be used to download data and vice versa.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

from townhall.citizens.models import Citizen

PREFERENCES_MAX_AGE_SECONDS = 7 * 24 * 3600
EXPORT_MAX_AGE_SECONDS = 24 * 3600

_SALTS = {"preferences": "townhall.citizens.preferences", "export": "townhall.citizens.export"}
_MAX_AGES = {"preferences": PREFERENCES_MAX_AGE_SECONDS, "export": EXPORT_MAX_AGE_SECONDS}


def make_token(citizen: Citizen, purpose: str) -> str:
    return signing.TimestampSigner(salt=_SALTS[purpose]).sign(str(citizen.pk))


def citizen_from_token(token: str, purpose: str) -> Citizen | None:
    """The citizen a valid, unexpired token was made for; None otherwise."""
    try:
        value = signing.TimestampSigner(salt=_SALTS[purpose]).unsign(
            token, max_age=_MAX_AGES[purpose]
        )
    except signing.BadSignature:
        return None
    return Citizen.objects.filter(pk=int(value), erased_at__isnull=True).first()


def preferences_url(citizen: Citizen) -> str:
    path = reverse("citizens:preferences", args=[make_token(citizen, "preferences")])
    return f"{settings.PUBLIC_BASE_URL}{path}"


def export_url(citizen: Citizen) -> str:
    path = reverse("citizens:export", args=[make_token(citizen, "export")])
    return f"{settings.PUBLIC_BASE_URL}{path}"
