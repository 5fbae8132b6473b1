"""The Cloud API webhook: verify, store, acknowledge. Everything else runs in the worker."""

import hmac
import logging

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from townhall.whatsapp.actions import do_record_webhook_event
from townhall.whatsapp.signatures import SIGNATURE_HEADER, is_valid_signature

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
    expected = settings.WHATSAPP["VERIFY_TOKEN"]
    if mode == "subscribe" and expected and hmac.compare_digest(token, expected) and challenge:
        return HttpResponse(challenge, content_type="text/plain")
    logger.warning("webhook.verify_refused mode=%s", mode[:20])
    return HttpResponse("Verification failed", status=403, content_type="text/plain")


def _receive(request: HttpRequest) -> HttpResponse:
    max_bytes = settings.WHATSAPP["WEBHOOK_MAX_BODY_BYTES"]
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes:
        logger.warning("webhook.rejected reason=too_large bytes=%d", declared)
        return _plain(f"Body larger than {max_bytes} bytes", 413)
    try:
        body = request.body
    except RequestDataTooBig:
        logger.warning("webhook.rejected reason=too_large")
        return _plain(f"Body larger than {max_bytes} bytes", 413)

    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        logger.warning("webhook.rejected reason=missing_signature bytes=%d", len(body))
        return _plain("Missing X-Hub-Signature-256", 401)
    if not is_valid_signature(body, signature, settings.WHATSAPP["APP_SECRET"]):
        logger.warning("webhook.rejected reason=bad_signature bytes=%d", len(body))
        return _plain("Invalid signature", 403)

    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        # Signed, so it came from Meta (or whoever holds our secret): keep it for inspection.
        do_record_webhook_event(body, is_readable=False)
        logger.warning("webhook.rejected reason=invalid_json bytes=%d", len(body))
        return _plain("Body is not valid JSON", 400)

    event = do_record_webhook_event(body)
    if event is None:
        logger.info("webhook.duplicate bytes=%d", len(body))
    return _plain("OK", 200)


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain")
