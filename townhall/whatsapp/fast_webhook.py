"""``POST /webhooks/whatsapp/``, the hot path of intake: verify, store, acknowledge.

``answer_webhook_post`` is the endpoint's one implementation: the Django view calls it, and so
does ``WebhookShortcut``, a WSGI wrapper in front of the Django application (see
``townhall/wsgi.py``) that answers webhook POSTs directly, without middleware, sessions, CSRF,
URL resolving and the per-request connection health check. Meta sends ~3 status webhooks per
message: through the full stack a webhook cost ~1.7 ms of CPU and four database round trips,
on this path it is one INSERT (see docs/benchmarks.md, "Webhook intake").

Anything else (GET verification, a query string, no Content-Length, a Host Django would
refuse, other paths) goes to Django unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.db import DatabaseError, connection

from townhall.citysettings.config import whatsapp_setting
from townhall.core.deployment import insecure_credentials
from townhall.whatsapp.actions import do_record_webhook_event
from townhall.whatsapp.signatures import is_valid_signature

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/whatsapp/"
# Read and thrown away in pieces: an oversized body is drained, never held in memory.
_DRAIN_CHUNK = 64 * 1024

StartResponse = Callable[..., Any]
WSGIApplication = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def too_large_answer(max_bytes: int, declared: int | None = None) -> tuple[int, str]:
    if declared is None:
        logger.warning("webhook.rejected reason=too_large")
    else:
        logger.warning("webhook.rejected reason=too_large bytes=%d", declared)
    return 413, f"Body larger than {max_bytes} bytes"


def webhook_app_secret() -> str:
    """The app secret that signs Meta's webhooks; empty (nothing is accepted) when it is the
    simulator's public one while Townhall talks to a real Cloud API. The system checks refuse
    to start so configured; this holds even if they were skipped."""
    whatsapp = effective_credentials()
    if "WHATSAPP_APP_SECRET" in insecure_credentials(str(whatsapp["API_BASE_URL"]), whatsapp):
        return ""
    return str(whatsapp["APP_SECRET"])


def effective_credentials() -> dict[str, object]:
    """The Cloud API address and credentials in force: the settings page's, else the
    environment's."""
    keys = ("API_BASE_URL", "ACCESS_TOKEN", "APP_SECRET", "VERIFY_TOKEN")
    return {**settings.WHATSAPP, **{key: whatsapp_setting(key) for key in keys}}


def drain(stream: Any, length: int) -> None:
    """Read ``length`` bytes of ``stream`` in pieces and throw them away, so the client,
    which writes the whole body before it reads, gets our answer instead of a reset."""
    remaining = length
    while remaining > 0:
        chunk = stream.read(min(_DRAIN_CHUNK, remaining))
        if not chunk:
            return
        remaining -= len(chunk)


def answer_webhook_post(body: bytes, signature: str | None) -> tuple[int, str]:
    """Status and text of our answer to a webhook POST with this raw body and signature.

    200 only once the body is stored durably: any other answer makes Meta deliver it again.
    """
    if not signature:
        logger.warning("webhook.rejected reason=missing_signature bytes=%d", len(body))
        return 401, "Missing X-Hub-Signature-256"
    if not is_valid_signature(body, signature, webhook_app_secret()):
        logger.warning("webhook.rejected reason=bad_signature bytes=%d", len(body))
        return 403, "Invalid signature"
    try:
        orjson.loads(body)
        is_readable = True
    except orjson.JSONDecodeError:
        is_readable = False
    try:
        # Signed but unreadable: it came from Meta (or whoever holds our secret), so it is
        # kept for inspection.
        event_id = do_record_webhook_event(body, is_readable=is_readable)
    except DatabaseError as error:
        logger.error(
            "webhook.not_stored reason=database_error error=%s bytes=%d",
            type(error).__name__,
            len(body),
        )
        # A broken connection is dropped so that the next request opens a new one (this
        # path has no request_started signal to do it).
        if not connection.in_atomic_block:
            connection.close()
        return 503, "Temporarily unable to store the webhook"
    if not is_readable:
        logger.warning("webhook.rejected reason=invalid_json bytes=%d", len(body))
        return 400, "Body is not valid JSON"
    if event_id is None:
        logger.info("webhook.duplicate bytes=%d", len(body))
    return 200, "OK"


class WebhookShortcut:
    """WSGI: webhook POSTs straight to ``answer_webhook_post``, the rest to Django."""

    def __init__(self, django_application: WSGIApplication, *, path: str = WEBHOOK_PATH) -> None:
        self._django_application = django_application
        self._path = path

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH") or ""
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or environ.get("PATH_INFO") != self._path
            or environ.get("QUERY_STRING")
            or not length.isdigit()
            or not _is_allowed_host(environ)
        ):
            return self._django_application(environ, start_response)
        declared = int(length)
        stream = environ["wsgi.input"]
        max_bytes = settings.WHATSAPP["WEBHOOK_MAX_BODY_BYTES"]
        if declared > max_bytes:
            # Read to the end first, so the client gets our answer rather than a reset.
            drain(stream, declared)
            status, text = too_large_answer(max_bytes, declared)
        else:
            body = stream.read(declared)
            status, text = answer_webhook_post(body, environ.get("HTTP_X_HUB_SIGNATURE_256"))
        content = text.encode()
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(content))),
                ("X-Content-Type-Options", "nosniff"),
            ],
        )
        return [content]


def _is_allowed_host(environ: dict[str, Any]) -> bool:
    """Django's ALLOWED_HOSTS check (its CommonMiddleware answers 400 to other hosts)."""
    try:
        WSGIRequest(environ).get_host()
    except DisallowedHost:
        return False
    return True
