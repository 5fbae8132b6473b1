"""Cached reads of the city's settings, with the environment as the default.

Every consumer (page frame, privacy page, office hours, bot texts, the WhatsApp transport,
quiet hours, messaging limit, rate limiter) asks these functions, never the model. A
snapshot of the row and the changed texts is kept per process for ``CACHE_SECONDS``
(two small queries, then none: the webhook shortcut and the dispatcher call this for every
batch); the process that saves drops it at once, other processes (worker, other web
workers) see a change within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings

from townhall.citysettings import crypto

CACHE_SECONDS = 10.0

# settings.WHATSAPP keys that the settings page can override.
WHATSAPP_KEYS = (
    "PHONE_NUMBER_ID",
    "BUSINESS_ACCOUNT_ID",
    "DISPLAY_PHONE_NUMBER",
    "ACCESS_TOKEN",
    "APP_SECRET",
    "VERIFY_TOKEN",
    "SEND_RATE_PER_SECOND",
)


@dataclass(frozen=True, slots=True)
class Snapshot:
    city_name: str = ""
    logo_name: str = ""
    brand_color: str = ""
    state: str = ""
    observes_holidays: bool | None = None
    controller_contact: str = ""
    dpo_contact: str = ""
    quiet_hours: str = ""
    messaging_limit: str = ""
    whatsapp: dict[str, Any] = field(default_factory=dict)
    secrets_set_at: dict[str, datetime | None] = field(default_factory=dict)
    updated_at: datetime | None = None
    # (key, language) → text
    texts: dict[tuple[str, str], str] = field(default_factory=dict)


_lock = threading.Lock()
_cached: tuple[float, Snapshot] | None = None


def invalidate() -> None:
    """Forget the snapshot (after a save, and between tests)."""
    global _cached
    with _lock:
        _cached = None


def prime(snapshot: Snapshot | None = None, *, keep: bool = False) -> None:
    """Load the snapshot now (or use ``snapshot``); ``keep`` never expires it (tests without
    a database use the defaults)."""
    global _cached
    snapshot = snapshot if snapshot is not None else _load()
    with _lock:
        _cached = (math.inf if keep else time.monotonic(), snapshot)


def current() -> Snapshot:
    global _cached
    cached = _cached
    if cached is not None and (
        cached[0] == math.inf or time.monotonic() - cached[0] < CACHE_SECONDS
    ):
        return cached[1]
    snapshot = _load()
    with _lock:
        _cached = (time.monotonic(), snapshot)
    return snapshot


def _load() -> Snapshot:
    from townhall.citysettings.models import SINGLETON_ID, CitizenText, CitySettings

    texts = {
        (row.key, row.language): row.text
        for row in CitizenText.objects.only("key", "language", "text")
    }
    row = CitySettings.objects.filter(pk=SINGLETON_ID).first()
    if row is None:
        return Snapshot(texts=texts)
    whatsapp: dict[str, Any] = {
        "PHONE_NUMBER_ID": row.phone_number_id,
        "BUSINESS_ACCOUNT_ID": row.business_account_id,
        "DISPLAY_PHONE_NUMBER": row.display_phone_number,
        "ACCESS_TOKEN": crypto.decrypt(row.access_token_encrypted),
        "APP_SECRET": crypto.decrypt(row.app_secret_encrypted),
        "VERIFY_TOKEN": crypto.decrypt(row.verify_token_encrypted),
        "SEND_RATE_PER_SECOND": row.send_rate_per_second,
    }
    return Snapshot(
        city_name=row.city_name,
        logo_name=(row.logo.name or "") if row.logo else "",
        brand_color=row.brand_color,
        state=row.state,
        observes_holidays=row.observes_holidays,
        controller_contact=row.controller_contact,
        dpo_contact=row.dpo_contact,
        quiet_hours=row.quiet_hours,
        messaging_limit=row.messaging_limit,
        whatsapp={key: value for key, value in whatsapp.items() if value},
        secrets_set_at={
            "ACCESS_TOKEN": row.access_token_set_at,
            "APP_SECRET": row.app_secret_set_at,
            "VERIFY_TOKEN": row.verify_token_set_at,
        },
        updated_at=row.updated_at,
        texts=texts,
    )


# --- what consumers read ------------------------------------------------------------------------


def city_name() -> str:
    return current().city_name or settings.CITY["NAME"]


def city_state() -> str:
    return current().state or settings.CITY["STATE"]


def observes_holidays() -> bool:
    value = current().observes_holidays
    return settings.INBOX_OBSERVES_HOLIDAYS if value is None else value


def brand_color() -> str:
    """The city's colour for the page frame; empty = the stylesheet's own."""
    return current().brand_color


def logo_name() -> str:
    """The stored logo file (``MEDIA_ROOT``-relative); empty = the built-in mark."""
    return current().logo_name


def controller_contact() -> str:
    return current().controller_contact


def dpo_contact() -> str:
    return current().dpo_contact


def quiet_hours_spec() -> str:
    """ "HH:MM-HH:MM" or "" (none): the settings page's value, else the environment's."""
    value = current().quiet_hours
    if value == "off":
        return ""
    return value or str(settings.CHANNEL.get("QUIET_HOURS") or "")


def messaging_limit_spec() -> str:
    return current().messaging_limit or str(settings.CHANNEL.get("MESSAGING_LIMIT", ""))


def whatsapp_setting(key: str) -> Any:
    """One ``settings.WHATSAPP`` value, overridden by the settings page where it was set."""
    value = current().whatsapp.get(key)
    return settings.WHATSAPP[key] if value is None else value


def secret_set_at(key: str) -> datetime | None:
    return current().secrets_set_at.get(key)


def citizen_text_override(key: str, language: str) -> str | None:
    return current().texts.get((key, language))
