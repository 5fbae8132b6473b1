"""Every change of the city's settings. Views and tests call these; nothing else saves them.

Each action validates (``InvalidSettings`` with a sentence for staff), saves in one short
transaction, drops the cached snapshot (``config.invalidate``) and records who changed what
(names of the changed fields only, never a secret's value).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import time
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from townhall.audit.actions import Action as AuditAction
from townhall.audit.actions import do_audit
from townhall.citysettings import config, crypto, texts
from townhall.citysettings.models import SINGLETON_ID, CitizenText, CitySettings
from townhall.core import clock

logger = logging.getLogger(__name__)

LOGO_MAX_BYTES = 1024 * 1024
# Raster formats only: an SVG could carry scripts into every page.
LOGO_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "png",
    b"\xff\xd8\xff": "jpg",
    b"GIF87a": "gif",
    b"GIF89a": "gif",
}
SECRET_KEYS = {
    "ACCESS_TOKEN": ("access_token_encrypted", "access_token_set_at"),
    "APP_SECRET": ("app_secret_encrypted", "app_secret_set_at"),
    "VERIFY_TOKEN": ("verify_token_encrypted", "verify_token_set_at"),
}
LANGUAGES = ("de", "en")
# WCAG AA for normal text: the top bar's white links on the city's colour.
MIN_CONTRAST = 4.5


class InvalidSettings(ValueError):
    """Input a settings page cannot accept; the text says why, for staff."""


def _save(changes: dict[str, Any], *, acting_user: Any, section: str) -> CitySettings:
    with transaction.atomic():
        row, _created = CitySettings.objects.select_for_update().get_or_create(pk=SINGLETON_ID)
        changed = [name for name, value in changes.items() if getattr(row, name) != value]
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_at = clock.now()
        row.save()
        record_settings_change(acting_user, section, changed)
    _forget_cache()
    return row


def _forget_cache() -> None:
    config.invalidate()
    # Also after commit: another thread may have cached the old row in between.
    transaction.on_commit(config.invalidate)


def record_settings_change(acting_user: Any, section: str, changed: list[str]) -> None:
    """Audit entry and log line for a change on a settings page (also the office hours,
    which the inbox app stores). Field names only: a secret's or a text's value never
    reaches the audit log."""
    do_audit(
        AuditAction.SETTINGS_CHANGED,
        acting_user=acting_user,
        target_type="citysettings",
        target_id=section,
        details={"fields": sorted(changed), "via": "settings page"},
    )
    logger.info(
        "citysettings.changed section=%s fields=%s user=%s",
        section,
        ",".join(sorted(changed)) or "-",
        getattr(acting_user, "pk", None),
    )


# --- the city -----------------------------------------------------------------------------------


def parse_color(value: str) -> str:
    value = value.strip()
    if value and not (len(value) == 7 and value.startswith("#")):
        raise InvalidSettings(_("Enter a colour like #0b5cad."))
    try:
        int(value[1:] or "0", 16)
    except ValueError:
        raise InvalidSettings(_("Enter a colour like #0b5cad.")) from None
    if value and contrast_with_white(value) < MIN_CONTRAST:
        raise InvalidSettings(
            _("White text on this colour is hard to read; choose a darker colour.")
        )
    return value.lower()


def contrast_with_white(color: str) -> float:
    """WCAG contrast ratio of white text on ``color`` (#rrggbb)."""

    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(color[index : index + 2]) for index in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return 1.05 / (luminance + 0.05)


def check_logo(upload: UploadedFile) -> tuple[bytes, str]:
    """The logo's bytes and file extension; refuses anything but a small PNG, JPEG or GIF."""
    if upload.size is not None and upload.size > LOGO_MAX_BYTES:
        raise InvalidSettings(_("The logo may be at most 1 MB."))
    content = upload.read(LOGO_MAX_BYTES + 1)
    if len(content) > LOGO_MAX_BYTES:
        raise InvalidSettings(_("The logo may be at most 1 MB."))
    for signature, extension in LOGO_SIGNATURES.items():
        if content.startswith(signature):
            return content, extension
    raise InvalidSettings(_("The logo must be a PNG, JPEG or GIF image."))


def do_update_city_profile(
    *,
    city_name: str,
    brand_color: str,
    state: str,
    observes_holidays: bool | None,
    logo: UploadedFile | None = None,
    remove_logo: bool = False,
    acting_user: Any,
) -> CitySettings:
    changes: dict[str, Any] = {
        "city_name": city_name.strip(),
        "brand_color": parse_color(brand_color),
        "state": state,
        "observes_holidays": observes_holidays,
    }
    if logo is not None:
        content, extension = check_logo(logo)
        name = f"logo-{hashlib.sha256(content).hexdigest()[:16]}.{extension}"
        stored = ContentFile(content, name=name)
        row = CitySettings.objects.filter(pk=SINGLETON_ID).first() or CitySettings(pk=SINGLETON_ID)
        row.logo.save(name, stored, save=False)
        changes["logo"] = row.logo.name
    elif remove_logo:
        changes["logo"] = ""
    return _save(changes, acting_user=acting_user, section="city")


# --- privacy notice -----------------------------------------------------------------------------


def do_update_privacy_contacts(
    *, controller_contact: str, dpo_contact: str, acting_user: Any
) -> CitySettings:
    return _save(
        {"controller_contact": controller_contact.strip(), "dpo_contact": dpo_contact.strip()},
        acting_user=acting_user,
        section="privacy",
    )


# --- info channel -------------------------------------------------------------------------------


def quiet_hours_value(start: time | None, end: time | None, *, enabled: bool) -> str:
    """The stored form of quiet hours: "off", or "HH:MM-HH:MM"."""
    if not enabled:
        return "off"
    if start is None or end is None:
        raise InvalidSettings(_("Enter when the quiet hours start and end."))
    if start == end:
        raise InvalidSettings(_("The quiet hours must start and end at different times."))
    return f"{start:%H:%M}-{end:%H:%M}"


def do_update_channel_settings(
    *,
    quiet_hours: str,
    messaging_limit: str,
    send_rate_per_second: int | None,
    acting_user: Any,
) -> CitySettings:
    if messaging_limit and messaging_limit not in CitySettings.MessagingLimit.values:
        raise InvalidSettings(_("Choose one of Meta's messaging limits."))
    if send_rate_per_second is not None and not 1 <= send_rate_per_second <= 1000:
        raise InvalidSettings(_("Meta allows between 1 and 1,000 messages per second."))
    return _save(
        {
            "quiet_hours": quiet_hours,
            "messaging_limit": messaging_limit,
            "send_rate_per_second": send_rate_per_second,
        },
        acting_user=acting_user,
        section="channel",
    )


# --- WhatsApp -----------------------------------------------------------------------------------


def do_update_whatsapp_settings(
    *,
    phone_number_id: str,
    business_account_id: str,
    display_phone_number: str,
    secrets: dict[str, str],
    clear_secrets: frozenset[str] = frozenset(),
    acting_user: Any,
) -> CitySettings:
    """Ids as given; each secret in ``secrets`` (non-empty) is encrypted and replaces the
    stored one, those in ``clear_secrets`` go back to the environment's value."""
    for value, label in (
        (phone_number_id, _("phone number ID")),
        (business_account_id, _("WhatsApp business account ID")),
    ):
        if value.strip() and not value.strip().isdigit():
            raise InvalidSettings(_("The %(field)s has digits only.") % {"field": label})
    digits = display_phone_number.strip().lstrip("+").replace(" ", "")
    if digits and not digits.isdigit():
        raise InvalidSettings(_("Enter the phone number with digits only, e.g. 4929321000000."))
    changes: dict[str, Any] = {
        "phone_number_id": phone_number_id.strip(),
        "business_account_id": business_account_id.strip(),
        "display_phone_number": digits,
    }
    now = clock.now()
    for key, (encrypted_field, set_at_field) in SECRET_KEYS.items():
        value = (secrets.get(key) or "").strip()
        if value:
            changes[encrypted_field] = crypto.encrypt(value)
            changes[set_at_field] = now
        elif key in clear_secrets:
            changes[encrypted_field] = ""
            changes[set_at_field] = None
    return _save(changes, acting_user=acting_user, section="whatsapp")


# --- texts for citizens -------------------------------------------------------------------------


def do_set_citizen_text(key: str, language: str, text: str, *, acting_user: Any) -> None:
    """The city's wording of text ``key`` in ``language``; empty or the built-in text
    itself resets it to the built-in text."""
    if key not in texts.SPECS or language not in LANGUAGES:
        raise InvalidSettings(_("Unknown text."))
    text = text.strip().replace("\r\n", "\n")
    unknown = texts.check_placeholders(key, text)
    if unknown:
        raise InvalidSettings(
            _(
                "The text uses placeholders the message does not have: %(unknown)s. "
                "Write %%%% for a percent sign."
            )
            % {"unknown": ", ".join(sorted(unknown))}
        )
    with transaction.atomic():
        with translation.override(language):
            default = texts.default_text(key)
        if not text or text == default:
            CitizenText.objects.filter(key=key, language=language).delete()
        else:
            CitizenText.objects.update_or_create(
                key=key, language=language, defaults={"text": text, "updated_at": clock.now()}
            )
        record_settings_change(acting_user, "citizen_texts", [f"{key}:{language}"])
    _forget_cache()


def do_reset_citizen_text(key: str, language: str, *, acting_user: Any) -> None:
    do_set_citizen_text(key, language, "", acting_user=acting_user)
