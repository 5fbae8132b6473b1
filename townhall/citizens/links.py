"""Signed, expiring links that let a citizen act without a password (preferences, export).

The token carries only the citizen's id; it is signed with SECRET_KEY and a per-purpose
salt, so a preferences link cannot be used to download data and vice versa.
"""

from __future__ import annotations

import enum
import functools
import re
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.core import signing
from django.urls import reverse

from townhall.citizens.models import Citizen

PREFERENCES_MAX_AGE_SECONDS = 7 * 24 * 3600
EXPORT_MAX_AGE_SECONDS = 24 * 3600

_SALTS = {"preferences": "townhall.citizens.preferences", "export": "townhall.citizens.export"}
_MAX_AGES = {"preferences": PREFERENCES_MAX_AGE_SECONDS, "export": EXPORT_MAX_AGE_SECONDS}


class TokenState(enum.Enum):
    VALID = "valid"
    # Ours, but older than the purpose allows: the citizen can ask for a new link.
    EXPIRED = "expired"
    # Not ours, mistyped, or made for another purpose.
    INVALID = "invalid"


def _signer(purpose: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALTS[purpose])


def make_token(citizen: Citizen, purpose: str) -> str:
    return _signer(purpose).sign(str(citizen.pk))


def token_state(token: str, purpose: str) -> TokenState:
    """Whether ``token`` is a valid, an expired or no link for ``purpose``.

    Says nothing about the citizen: a valid token of an erased citizen is still VALID.
    """
    try:
        _signer(purpose).unsign(token, max_age=_MAX_AGES[purpose])
    except signing.SignatureExpired:
        return TokenState.EXPIRED
    except signing.BadSignature:
        return TokenState.INVALID
    return TokenState.VALID


def citizen_from_token(token: str, purpose: str) -> Citizen | None:
    """The citizen a valid, unexpired token was made for; None otherwise."""
    try:
        value = _signer(purpose).unsign(token, max_age=_MAX_AGES[purpose])
    except signing.BadSignature:
        return None
    return Citizen.objects.filter(pk=int(value), erased_at__isnull=True).first()


def preferences_url(citizen: Citizen) -> str:
    path = reverse("citizens:preferences", args=[make_token(citizen, "preferences")])
    return f"{settings.PUBLIC_BASE_URL}{path}"


def export_url(citizen: Citizen) -> str:
    path = reverse("citizens:export", args=[make_token(citizen, "export")])
    return f"{settings.PUBLIC_BASE_URL}{path}"


# --- click-to-chat -------------------------------------------------------------------------


def city_wa_id() -> str:
    return re.sub(r"\D", "", settings.WHATSAPP["DISPLAY_PHONE_NUMBER"])


def click_to_chat_url(text: str) -> str:
    """A wa.me link that opens a chat with the city, ``text`` typed in for the citizen.

    https://faq.whatsapp.com/5913398998672934 (number in international format, digits only).
    """
    return f"https://wa.me/{city_wa_id()}?{urlencode({'text': text})}"


@functools.lru_cache(maxsize=16)
def qr_svg(content: str, title: str) -> str:
    """The QR code as inline SVG, named by its <title> for screen readers.

    A viewBox instead of a fixed size lets CSS shrink it on narrow phones.
    """
    svg = segno.make(content, error="m").svg_inline(
        scale=6, dark="#1b2430", light="#ffffff", title=title, svgclass="qr__code", omitsize=True
    )
    return svg.replace("<svg ", '<svg role="img" ', 1)
