"""Meta's Cloud API errors as exception classes the rest of Townhall can act on.

Business code branches on these classes, never on numeric codes. The same mapping serves
errors in API responses and the ``errors`` list of ``failed`` status webhooks.

Codes: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class CloudAPIError(Exception):
    """Base class. ``is_retryable`` says whether sending the same message later may succeed."""

    codes: ClassVar[tuple[int, ...]] = ()
    is_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str = "",
        *,
        code: int | None = None,
        http_status: int | None = None,
        details: str = "",
        fbtrace_id: str = "",
    ) -> None:
        super().__init__(message or self.__class__.__name__)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.details = details
        self.fbtrace_id = fbtrace_id

    def __str__(self) -> str:
        return (
            f"{self.__class__.__name__}(code={self.code}, http={self.http_status}): {self.message}"
        )


class TransportError(CloudAPIError):
    """No usable answer from the API: connection refused, timeout, garbage body."""

    is_retryable = True


class SlotMissed(TransportError):
    """Not sent: the request's send slot had passed by more than the client allows when it
    could leave (a busy event loop or full connection pool). Sent late, it would bunch up
    with the requests booked after it and Meta's rolling second would count more than the
    tier; the caller books a new slot instead."""


class OutcomeUnknown(TransportError):
    """The request may have reached Meta but no answer came back (read timeout, connection
    reset after sending). Sending again could deliver twice; see ``Message.Status.UNCONFIRMED``."""


class TransientServerError(CloudAPIError):
    """Meta's side failed temporarily (HTTP 5xx, "service unavailable", "unknown error")."""

    codes = (1, 2, 131000, 131016, 133004)
    is_retryable = True


class AuthError(CloudAPIError):
    """Access token invalid or expired, or the app lacks a permission. Needs an admin."""

    codes = (0, 3, 10, 190, *range(200, 300))


class ThroughputLimited(CloudAPIError):
    """Too many messages per second from our phone number (130429; 131057 while upgrading)."""

    codes = (4, 80007, 130429, 131057)
    is_retryable = True


class PairRateLimited(CloudAPIError):
    """Too many messages to the same citizen in a short time (131056). Back off."""

    codes = (131056,)
    is_retryable = True


class SpamRateLimited(CloudAPIError):
    """Meta restricts our number because of low quality (131048)."""

    codes = (131048,)


class MarketingLimited(CloudAPIError):
    """Per-user marketing message limit (131049); Meta suggests retrying much later."""

    codes = (131049,)


class OutsideServiceWindow(CloudAPIError):
    """Free-form message outside the 24-h customer service window (131047): send a template."""

    codes = (131047,)


class Undeliverable(CloudAPIError):
    """The recipient cannot receive it: not on WhatsApp, old app, terms not accepted (131026)."""

    codes = (131026,)


class TemplateError(CloudAPIError):
    """The template does not exist, is paused or disabled, or its parameters do not fit."""

    codes = (132000, 132001, 132005, 132007, 132008, 132012, 132015, 132016, 132068, 132069)


class MediaError(CloudAPIError):
    """The media could not be downloaded or uploaded by Meta."""

    codes = (131052, 131053)


class InvalidRequest(CloudAPIError):
    """Our request was wrong (bad parameter, unsupported type). A bug or bad data: final."""

    codes = (100, 131008, 131009, 131021, 131051, 135000)


class AccountRestricted(CloudAPIError):
    """The business account is locked, restricted or blocked (368, 131031, 130497...)."""

    codes = (368, 130472, 130497, 131031, 131042, 131045)


_CLASSES: tuple[type[CloudAPIError], ...] = (
    TransientServerError,
    AuthError,
    ThroughputLimited,
    PairRateLimited,
    SpamRateLimited,
    MarketingLimited,
    OutsideServiceWindow,
    Undeliverable,
    TemplateError,
    MediaError,
    InvalidRequest,
    AccountRestricted,
)
_CLASS_BY_CODE: dict[int, type[CloudAPIError]] = {
    code: error_class for error_class in _CLASSES for code in error_class.codes
}


def error_class_for(code: int | None, http_status: int | None = None) -> type[CloudAPIError]:
    """The class for a Meta error code; unknown codes fall back on the HTTP status."""
    if code is not None and code in _CLASS_BY_CODE:
        return _CLASS_BY_CODE[code]
    if http_status is not None:
        if http_status >= 500:
            return TransientServerError
        if http_status in (401, 403):
            return AuthError
        if http_status == 429:
            return ThroughputLimited
    return CloudAPIError


def error_from_payload(error: Mapping[str, Any], http_status: int | None = None) -> CloudAPIError:
    """Build the typed error from Meta's ``error`` object (API) or an ``errors[]`` item (webhook)."""
    raw_code = error.get("code")
    try:
        code = int(raw_code) if raw_code is not None else None
    except (TypeError, ValueError):
        code = None
    error_data = error.get("error_data")
    details = error_data.get("details", "") if isinstance(error_data, Mapping) else ""
    message = str(error.get("message") or error.get("title") or "")
    error_class = error_class_for(code, http_status)
    return error_class(
        message,
        code=code,
        http_status=http_status,
        details=str(details or ""),
        fbtrace_id=str(error.get("fbtrace_id") or ""),
    )
