"""The Cloud API webhook: verify, store, acknowledge. Everything else runs in the worker."""

import hmac
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from townhall.core.deployment import insecure_credentials
from townhall.whatsapp.fast_webhook import (
    answer_webhook_post,
    drain,
    effective_credentials,
    too_large_answer,
)
from townhall.whatsapp.signatures import SIGNATURE_HEADER

logger = logging.getLogger(__name__)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _verify_subscription(request)
    return _receive(request)


def _verify_subscription(request: HttpRequest) -> HttpResponse:
    """Meta's handshake when the webhook URL is configured in the app dashboard."""
    mode = request.GET.get("hub.mode", "")
    token = request.GET.get("hub.verify_token", "")
    challenge = request.GET.get("hub.challenge", "")
    whatsapp = effective_credentials()
    expected = str(whatsapp["VERIFY_TOKEN"])
    if "WHATSAPP_VERIFY_TOKEN" in insecure_credentials(str(whatsapp["API_BASE_URL"]), whatsapp):
        # The simulator's token is public: with a real Cloud API it verifies nothing.
        expected = ""
    if mode == "subscribe" and expected and hmac.compare_digest(token, expected) and challenge:
        return HttpResponse(challenge, content_type="text/plain")
    logger.warning("webhook.verify_refused mode=%s", mode[:20])
    return HttpResponse("Verification failed", status=403, content_type="text/plain")


def _receive(request: HttpRequest) -> HttpResponse:
    """Only reached when the WSGI shortcut passed the request on (or in the test client):
    same answers, via ``answer_webhook_post``."""
    max_bytes = settings.WHATSAPP["WEBHOOK_MAX_BODY_BYTES"]
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes:
        # Read to the end first (HttpRequest.read stops at Content-Length): a client that
        # writes the whole body before reading would otherwise see a reset, not the 413.
        drain(request, declared)
        status, text = too_large_answer(max_bytes, declared)
        return _plain(text, status)
    try:
        body = request.body
    except RequestDataTooBig:
        drain(request, declared)
        status, text = too_large_answer(max_bytes)
        return _plain(text, status)
    status, text = answer_webhook_post(body, request.headers.get(SIGNATURE_HEADER))
    return _plain(text, status)


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain")
