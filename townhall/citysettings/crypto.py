"""Secrets at rest (the WhatsApp access token, app secret, verify token): Fernet.

The key is ``TOWNHALL_ENCRYPTION_KEY`` (a Fernet key, ``Fernet.generate_key()``) or, without
it, derived from ``SECRET_KEY``. A database dump alone then reveals no token. Changing the
key makes stored secrets unreadable: they fall back to the environment's values and must be
entered again (logged, never raised: sending must not stop over a settings page).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

logger = logging.getLogger(__name__)


@cache
def _fernet(secret_key: str, explicit_key: str) -> Fernet:
    if explicit_key:
        return Fernet(explicit_key.encode())
    digest = hashlib.sha256(b"townhall.citysettings.secrets:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def fernet() -> Fernet:
    return _fernet(settings.SECRET_KEY, os.environ.get("TOWNHALL_ENCRYPTION_KEY", ""))


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str | None:
    """The stored secret, or None when it cannot be read (key changed)."""
    if not token:
        return None
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        logger.error("citysettings.secret_unreadable reason=key_changed")
        return None
