"""Meta signs each webhook body with the app secret; we check it before reading anything."""

import hashlib
import hmac

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta would send for ``body``."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"{_PREFIX}{digest}"


def is_valid_signature(body: bytes, header_value: str | None, app_secret: str) -> bool:
    """Constant-time check of ``X-Hub-Signature-256`` over the raw body."""
    if not header_value or not header_value.startswith(_PREFIX) or not app_secret:
        return False
    return hmac.compare_digest(sign(body, app_secret), header_value.strip())
