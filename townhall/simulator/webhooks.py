"""Meta-shaped webhooks: building, signing and delivering them to Townhall.

Envelopes follow the Cloud API webhook reference
(https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components). Delivery is
at least once with bounded exponential backoff, like Meta's, from a few sender threads that
share one time-ordered queue so a slow receiver does not serialise everything.
"""

import hashlib
import heapq
import hmac
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import orjson

from townhall.simulator.stats import Counters, LatencyRecorder

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
# Meta's webhook requests carry this user agent; receivers sometimes log or filter on it.
USER_AGENT = "facebookexternalua"


@dataclass(frozen=True)
class WebhookPayload:
    """One serialized, signed webhook request body. ``reference`` is a wamid for logs."""

    body: bytes
    signature: str
    kind: str
    reference: str


def sign(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value: HMAC-SHA256 of the raw body with the app secret."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def envelope(
    *, waba_id: str, display_phone_number: str, phone_number_id: str, value: dict[str, Any]
) -> dict[str, Any]:
    """Wrap a change value (``messages``/``contacts`` or ``statuses``) in Meta's envelope."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_id,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": display_phone_number,
                                "phone_number_id": phone_number_id,
                            },
                            **value,
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def build_payload(
    app_secret: str, webhook: dict[str, Any], *, kind: str, reference: str
) -> WebhookPayload:
    """Serialize once and sign the exact bytes that will be sent (and re-sent)."""
    body = orjson.dumps(webhook)
    return WebhookPayload(
        body=body, signature=sign(app_secret, body), kind=kind, reference=reference
    )


def unix_timestamp(seconds: float) -> str:
    """Meta's timestamps: whole unix seconds as a string."""
    return str(int(seconds))


# --- inbound message objects ---------------------------------------------------------------------


def inbound_message(
    *,
    wamid: str,
    wa_id: str,
    timestamp: float,
    message_type: str,
    content: dict[str, Any],
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``messages[]`` entry as a citizen's phone produces it."""
    message: dict[str, Any] = {
        "from": wa_id,
        "id": wamid,
        "timestamp": unix_timestamp(timestamp),
        "type": message_type,
    }
    if context:
        message["context"] = context
    message[message_type] = content
    return message


def contact(wa_id: str, name: str) -> dict[str, Any]:
    return {"profile": {"name": name}, "wa_id": wa_id}


def reply_context(display_phone_number: str, message_id: str) -> dict[str, Any]:
    """``context`` of a message that answers (or quotes) a business message."""
    return {"from": display_phone_number, "id": message_id}


def text_content(body: str) -> dict[str, Any]:
    return {"body": body}


def button_reply_content(button_id: str, title: str) -> dict[str, Any]:
    return {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}


def list_reply_content(row_id: str, title: str, description: str = "") -> dict[str, Any]:
    reply = {"id": row_id, "title": title}
    if description:
        reply["description"] = description
    return {"type": "list_reply", "list_reply": reply}


def template_button_content(payload: str, text: str) -> dict[str, Any]:
    """A tap on a template's quick-reply button (message type ``button``)."""
    return {"payload": payload, "text": text}


def reaction_content(message_id: str, emoji: str) -> dict[str, Any]:
    """A reaction; an empty emoji means the citizen removed their reaction."""
    return {"message_id": message_id, "emoji": emoji}


def location_content(
    latitude: float, longitude: float, name: str = "", address: str = ""
) -> dict[str, Any]:
    content: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if name:
        content["name"] = name
    if address:
        content["address"] = address
    return content


def media_content(
    media_type: str,
    *,
    media_id: str,
    mime_type: str,
    sha256: str,
    caption: str = "",
    filename: str = "",
) -> dict[str, Any]:
    content: dict[str, Any] = {"mime_type": mime_type, "sha256": sha256, "id": media_id}
    if caption and media_type in ("image", "video", "document"):
        content["caption"] = caption
    if media_type == "document" and filename:
        content["filename"] = filename
    if media_type == "audio":
        # Recorded in the app, so a voice note (Meta sets voice: true for those).
        content["voice"] = True
    if media_type == "sticker":
        content["animated"] = False
    return content


def status_object(
    *,
    wamid: str,
    status: str,
    timestamp: float,
    recipient_id: str,
    conversation: dict[str, Any] | None = None,
    pricing: dict[str, Any] | None = None,
    errors: list[dict[str, Any]] | None = None,
    biz_opaque_callback_data: str | None = None,
) -> dict[str, Any]:
    """A ``statuses[]`` entry for one business message."""
    entry: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": unix_timestamp(timestamp),
        "recipient_id": recipient_id,
    }
    if conversation is not None:
        entry["conversation"] = conversation
    if pricing is not None:
        entry["pricing"] = pricing
    if errors:
        entry["errors"] = errors
    if biz_opaque_callback_data is not None:
        entry["biz_opaque_callback_data"] = biz_opaque_callback_data
    return entry


# --- delivery ------------------------------------------------------------------------------------


class DeliveryConfig(Protocol):
    """The settings delivery reads at send time, so runtime config changes apply at once."""

    @property
    def webhook_url(self) -> str: ...

    @property
    def webhook_max_attempts(self) -> int: ...

    @property
    def webhook_retry_base_seconds(self) -> float: ...

    @property
    def webhook_timeout_seconds(self) -> float: ...


# Builds the payload when it is due (so state changes such as "delivered" happen at that
# moment); None means there is nothing to send any more (e.g. state was reset meanwhile).
Job = Callable[[], WebhookPayload | None]


@dataclass(order=True)
class _QueueItem:
    due: float
    sequence: int
    job: Job | None = field(compare=False, default=None)
    payload: WebhookPayload | None = field(compare=False, default=None)
    attempt: int = field(compare=False, default=1)
    first_due: float = field(compare=False, default=0.0)


class WebhookDispatcher:
    """A time-ordered webhook queue drained by sender threads, started on first use."""

    def __init__(
        self,
        config_provider: Callable[[], DeliveryConfig],
        *,
        senders: int = 4,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config_provider = config_provider
        self._sender_count = max(1, senders)
        self._transport = transport
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._work_ready = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._heap: list[_QueueItem] = []
        self._sequence = itertools.count()
        self._in_flight = 0
        self._threads: list[threading.Thread] = []
        self._client: httpx.Client | None = None
        self._is_closed = False
        self.counters = Counters()
        self.latency = LatencyRecorder()

    # -- producer side --

    def schedule(self, delay: float, job: Job) -> None:
        """Run ``job`` after ``delay`` seconds and deliver what it returns."""
        self._push(_QueueItem(due=self._monotonic() + max(0.0, delay), sequence=0, job=job))

    def submit(self, payload: WebhookPayload, delay: float = 0.0) -> None:
        """Deliver an already built payload (also used to re-deliver it on purpose)."""
        self._push(_QueueItem(due=self._monotonic() + max(0.0, delay), sequence=0, payload=payload))

    def _push(self, item: _QueueItem) -> None:
        self._ensure_started()
        with self._lock:
            if self._is_closed:
                return
            item.sequence = next(self._sequence)
            if item.first_due == 0.0:
                item.first_due = item.due
            heapq.heappush(self._heap, item)
            self.counters.increment("enqueued")
            self._work_ready.notify()

    def clear(self) -> int:
        """Drop everything not yet being sent; returns how many items were dropped."""
        with self._lock:
            dropped = len(self._heap)
            self._heap.clear()
            self._idle.notify_all()
        return dropped

    def pending(self) -> int:
        """Queued plus currently sending."""
        with self._lock:
            return len(self._heap) + self._in_flight

    def flush(self, timeout: float) -> bool:
        """Wait until the queue is empty and nothing is in flight; False on timeout."""
        deadline = self._monotonic() + timeout
        with self._lock:
            while self._heap or self._in_flight:
                remaining = deadline - self._monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def stats(self) -> dict[str, Any]:
        counts = self.counters.snapshot()
        return {
            "pending": self.pending(),
            "enqueued": counts.get("enqueued", 0),
            "delivered": counts.get("delivered", 0),
            "failed_attempts": counts.get("failed_attempts", 0),
            "retried": counts.get("retried", 0),
            "dropped": counts.get("dropped", 0),
            "skipped": counts.get("skipped", 0),
            "latency": self.latency.summary(),
        }

    def reset_stats(self) -> None:
        self.counters.reset()
        self.latency.reset()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the sender threads (queued items are dropped) and close the HTTP client."""
        with self._lock:
            self._is_closed = True
            self._heap.clear()
            self._work_ready.notify_all()
            self._idle.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
        if self._client is not None:
            self._client.close()

    # -- consumer side --

    def _ensure_started(self) -> None:
        with self._lock:
            if self._threads or self._is_closed:
                return
            self._client = httpx.Client(
                transport=self._transport,
                # The webhook URL is configured explicitly; proxies from the environment
                # must not reroute loopback traffic.
                trust_env=False,
                limits=httpx.Limits(
                    max_connections=self._sender_count * 2,
                    max_keepalive_connections=self._sender_count,
                ),
                headers={"User-Agent": USER_AGENT},
            )
            for index in range(self._sender_count):
                thread = threading.Thread(
                    target=self._run, name=f"simulator-webhooks-{index}", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def _next_item(self) -> _QueueItem | None:
        with self._lock:
            while not self._is_closed:
                if self._heap:
                    wait = self._heap[0].due - self._monotonic()
                    if wait <= 0:
                        self._in_flight += 1
                        return heapq.heappop(self._heap)
                    self._work_ready.wait(wait)
                else:
                    self._work_ready.wait()
            return None

    def _run(self) -> None:
        while (item := self._next_item()) is not None:
            try:
                self._process(item)
            except Exception:
                # A bug in one job must not kill the sender thread.
                logger.exception("Webhook job failed")
            finally:
                with self._lock:
                    self._in_flight -= 1
                    if not self._heap and not self._in_flight:
                        self._idle.notify_all()

    def _process(self, item: _QueueItem) -> None:
        if item.payload is None:
            item.payload = item.job() if item.job is not None else None
            if item.payload is None:
                self.counters.increment("skipped")
                return
        config = self._config_provider()
        if self._post(item.payload, config):
            self.counters.increment("delivered")
            self.latency.record(max(0.0, self._monotonic() - item.first_due))
            return
        self.counters.increment("failed_attempts")
        if item.attempt >= config.webhook_max_attempts:
            self.counters.increment("dropped")
            logger.warning(
                "Dropped %s webhook for %s after %d attempts",
                item.payload.kind,
                item.payload.reference,
                item.attempt,
            )
            return
        # Exponential backoff like Meta's re-delivery, bounded by webhook_max_attempts.
        delay = config.webhook_retry_base_seconds * 2 ** (item.attempt - 1)
        self.counters.increment("retried")
        with self._lock:
            if self._is_closed:
                return
            item.due = self._monotonic() + delay
            item.attempt += 1
            item.sequence = next(self._sequence)
            heapq.heappush(self._heap, item)
            self._work_ready.notify()

    def _post(self, payload: WebhookPayload, config: DeliveryConfig) -> bool:
        if self._client is None:
            raise RuntimeError("dispatcher was not started")
        try:
            response = self._client.post(
                config.webhook_url,
                content=payload.body,
                headers={"Content-Type": "application/json", SIGNATURE_HEADER: payload.signature},
                timeout=config.webhook_timeout_seconds,
            )
        except httpx.HTTPError as error:
            logger.debug(
                "Webhook delivery error for %s: %s", payload.reference, type(error).__name__
            )
            return False
        if 200 <= response.status_code < 300:
            return True
        logger.debug("Webhook for %s answered HTTP %d", payload.reference, response.status_code)
        return False
