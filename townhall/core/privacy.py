"""Helpers that keep personal data out of logs."""

import hashlib
import hmac

from django.conf import settings


def redact(value: str | None) -> str:
    """A stable, non-reversible token for a phone number or WhatsApp id, for log lines.

    Keyed with SECRET_KEY so the token cannot be reversed by hashing all phone numbers.
    The same number gives the same token, so one citizen's events can still be followed.
    """
    if not value:
        return "-"
    digest = hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()
    return f"wa:{digest[:10]}"
