"""WhatsApp ids as people see them: validated (E.164), formatted in full, or masked."""

from __future__ import annotations

import re

import phonenumbers

MASK = "••••"
# Numbers typed in national format ("0151 …") are read as German numbers.
DEFAULT_COUNTRY_CODE = "49"


def _parse(wa_id: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(f"+{wa_id}")
    except phonenumbers.NumberParseException:
        return None


def is_valid_wa_id(wa_id: str) -> bool:
    """Whether ``wa_id`` (digits of an E.164 number, no "+") can be a real phone number."""
    if not wa_id.isdigit():
        return False
    number = _parse(wa_id)
    return number is not None and phonenumbers.is_valid_number(number)


def format_wa_id(wa_id: str) -> str:
    """The full number in international format, e.g. ``+49 176 12345604``."""
    number = _parse(wa_id)
    if number is None:
        return f"+{wa_id}"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def mask_wa_id(wa_id: str) -> str:
    """Country code, network prefix and last digits only, e.g. ``+49 176 •••• 5604``.

    Enough to tell two citizens of the same name apart; not enough to call them.
    """
    number = _parse(wa_id)
    if number is None:
        return f"{MASK} {wa_id[-2:]}"
    national = phonenumbers.national_significant_number(number)
    prefix_length = phonenumbers.length_of_national_destination_code(number)
    subscriber = national[prefix_length:]
    visible = 4 if len(subscriber) >= 7 else 2
    prefix = f" {national[:prefix_length]}" if prefix_length else ""
    return f"+{number.country_code}{prefix} {MASK} {subscriber[-visible:]}"


def search_digit_variants(query: str) -> list[str]:
    """The digit strings a typed number may appear as inside a wa_id.

    ``+49 176 1234``, ``0049 176 1234`` and ``0176 1234`` all find ``4917612345604``.
    Returns an empty list when the query holds no digits.
    """
    digits = re.sub(r"\D", "", query)
    if not digits:
        return []
    if digits.startswith("00"):
        return [digits[2:]] if len(digits) > 2 else []
    if digits.startswith("0") and len(digits) > 1:
        return [digits, DEFAULT_COUNTRY_CODE + digits[1:]]
    return [digits]
