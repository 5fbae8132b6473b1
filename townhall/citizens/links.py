"""Signed, expiring links that let a citizen act without a password (preferences, export).

A token carries the citizen's id and the citizen's ``link_generation`` (export tokens also
``export_downloads``); it is signed with SECRET_KEY and a per-purpose salt, so a preferences
link cannot be used to download data and vice versa. Raising ``link_generation`` revokes
every link given out so far (erasure, or on request); a download raises
``export_downloads``, so each export link works once.

Tokens are bearer credentials: ``townhall.core.logging`` keeps them out of every log line.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.core import signing
from django.urls import reverse

from townhall.citizens.models import Citizen
from townhall.citysettings.config import whatsapp_setting

PREFERENCES_MAX_AGE_SECONDS = 7 * 24 * 3600
EXPORT_MAX_AGE_SECONDS = 24 * 3600

_SALTS = {"preferences": "townhall.citizens.preferences", "export": "townhall.citizens.export"}
_MAX_AGES = {"preferences": PREFERENCES_MAX_AGE_SECONDS, "export": EXPORT_MAX_AGE_SECONDS}


class TokenState(enum.Enum):
    VALID = "valid"
    # Ours, but older than the purpose allows, revoked or (export) used: the citizen can
    # ask for a new link.
    EXPIRED = "expired"
    # Not ours, mistyped, or made for another purpose.
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """What a correctly signed token says (expiry checked, revocation not yet)."""

    citizen_id: int
    generation: int
    export_downloads: int
    # Seconds since the epoch, when the link was made.
    issued_at: int


class _IssuedAtSigner(signing.TimestampSigner):
    """Signs with a given issue time instead of now (an export link made on the preferences
    page expires 24 hours after the preferences link, not 24 hours after the visit)."""

    def __init__(self, *, issued_at: int, salt: str) -> None:
        super().__init__(salt=salt)
        self._issued_at = issued_at

    def timestamp(self) -> str:
        return signing.b62_encode(self._issued_at)


def _signer(purpose: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALTS[purpose])


def make_token(citizen: Citizen, purpose: str, *, issued_at: int | None = None) -> str:
    parts = [citizen.pk, citizen.link_generation]
    if purpose == "export":
        parts.append(citizen.export_downloads)
    value = ".".join(str(part) for part in parts)
    if issued_at is not None:
        return _IssuedAtSigner(issued_at=issued_at, salt=_SALTS[purpose]).sign(value)
    return _signer(purpose).sign(value)


def claims(token: str, purpose: str) -> LinkClaims | None:
    """The claims of a correctly signed, unexpired token for ``purpose``; None otherwise."""
    try:
        value = _signer(purpose).unsign(token, max_age=_MAX_AGES[purpose])
        numbers = [int(part) for part in value.split(".")]
        issued_at = signing.b62_decode(token.rsplit(":", 2)[1])
    except (signing.BadSignature, ValueError, IndexError):
        return None
    # Links made before revocation existed carry only the id: generation 0.
    citizen_id, generation, export_downloads = [*numbers, 0, 0][:3]
    return LinkClaims(citizen_id, generation, export_downloads, issued_at)


def _is_current(citizen: Citizen, link: LinkClaims, purpose: str) -> bool:
    if citizen.erased_at is not None or citizen.link_generation != link.generation:
        return False
    return purpose != "export" or citizen.export_downloads == link.export_downloads


def token_state(token: str, purpose: str) -> TokenState:
    """Whether ``token`` is a valid, an expired (or revoked, or used) or no link for
    ``purpose``."""
    try:
        _signer(purpose).unsign(token, max_age=_MAX_AGES[purpose])
    except signing.SignatureExpired:
        return TokenState.EXPIRED
    except signing.BadSignature:
        return TokenState.INVALID
    link = claims(token, purpose)
    if link is None:
        return TokenState.INVALID
    citizen = Citizen.objects.filter(pk=link.citizen_id).first()
    if citizen is None:
        return TokenState.INVALID
    return TokenState.VALID if _is_current(citizen, link, purpose) else TokenState.EXPIRED


def citizen_from_token(token: str, purpose: str) -> Citizen | None:
    """The citizen a valid, unexpired, unrevoked (export: unused) token was made for."""
    link = claims(token, purpose)
    if link is None:
        return None
    citizen = Citizen.objects.filter(pk=link.citizen_id).first()
    if citizen is None or not _is_current(citizen, link, purpose):
        return None
    return citizen


def export_token_for_preferences(citizen: Citizen, preferences_token: str) -> str | None:
    """An export link for the preferences page, expiring when an export link sent with the
    preferences link would have (24 hours after it was made); None after that, so the page
    asks the citizen to write MEINE DATEN instead."""
    link = claims(preferences_token, "preferences")
    if link is None:
        return None
    token = make_token(citizen, "export", issued_at=link.issued_at)
    return token if token_state(token, "export") is TokenState.VALID else None


def preferences_url(citizen: Citizen) -> str:
    path = reverse("citizens:preferences", args=[make_token(citizen, "preferences")])
    return f"{settings.PUBLIC_BASE_URL}{path}"


def export_url(citizen: Citizen) -> str:
    path = reverse("citizens:export", args=[make_token(citizen, "export")])
    return f"{settings.PUBLIC_BASE_URL}{path}"


# --- click-to-chat -------------------------------------------------------------------------


def city_wa_id() -> str:
    return re.sub(r"\D", "", whatsapp_setting("DISPLAY_PHONE_NUMBER"))


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
