"""Meta-shaped webhooks: building, signing and delivering them to Townhall.

Envelopes follow the Cloud API webhook reference
(https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components). Delivery is
at least once with bounded exponential backoff, like Meta's. One asyncio thread drains a
time-ordered queue many items per wake-up and keeps many POSTs in flight over keep-alive
connections, so the simulator keeps up with thousands of statuses per second; the statuses
of one message are delivered one after another, never out of order.
"""

import asyncio
import concurrent.futures
import hashlib
import heapq
import hmac
import itertools
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import orjson

from townhall.simulator.http_client import KeepAliveConnection
from townhall.simulator.stats import Counters, LatencyRecorder

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
# Meta's webhook requests carry this user agent; receivers sometimes log or filter on it.
USER_AGENT = "facebookexternalua"


@dataclass(frozen=True)
class WebhookPayload:
    """One serialized, signed webhook request body. ``reference`` is a wamid for logs;
    ``message_ids`` are the business messages whose statuses it carries (kept in order);
    ``sender`` is the phone that wrote an inbound message (its messages are kept in order,
    like a chat: a reaction changed right after it was set arrives after it)."""

    body: bytes
    signature: str
    kind: str
    reference: str
    message_ids: tuple[str, ...] = ()
    sender: str = ""

    def ordering_keys(self) -> tuple[str, ...]:
        if self.message_ids:
            return self.message_ids
        if self.kind == "message" and self.sender:
            return (f"from:{self.sender}",)
        return (self.reference,) if self.kind == "status" else ()


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
    app_secret: str,
    webhook: dict[str, Any],
    *,
    kind: str,
    reference: str,
    message_ids: tuple[str, ...] = (),
    sender: str = "",
) -> WebhookPayload:
    """Serialize once and sign the exact bytes that will be sent (and re-sent)."""
    body = orjson.dumps(webhook)
    return WebhookPayload(
        body=body,
        signature=sign(app_secret, body),
        kind=kind,
        reference=reference,
        message_ids=message_ids,
        sender=sender,
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

# At most this many due items are taken per wake-up of the scheduler (bounds the time one
# round holds the queue; the next round follows at once).
ROUND_MAX_ITEMS = 2000
# With several statuses per webhook, due statuses wait this long for others to share their
# webhook instead of leaving one by one.
BATCH_LINGER_SECONDS = 0.02


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

    @property
    def statuses_per_webhook(self) -> int: ...


# Builds the payload when it is due (so state changes such as "delivered" happen at that
# moment); None means there is nothing to send any more (e.g. state was reset meanwhile).
Job = Callable[[], WebhookPayload | None]


@dataclass(frozen=True)
class StatusJob:
    """A status of one business message that becomes due later.

    ``emit`` applies the status and returns its ``statuses[]`` entry (None: nothing to send);
    ``build`` wraps entries into one signed webhook. Called plainly, it is an ordinary
    ``Job``; the dispatcher may instead put several due statuses into one webhook, as Meta's
    format allows (``value.statuses`` is a list).
    """

    message_id: str
    emit: Callable[[], dict[str, Any] | None]
    build: Callable[[list[dict[str, Any]]], WebhookPayload]

    def __call__(self) -> WebhookPayload | None:
        entry = self.emit()
        return None if entry is None else self.build([entry])


@dataclass(order=True)
class _QueueItem:
    due: float
    sequence: int
    job: Job | None = field(compare=False, default=None)
    payload: WebhookPayload | None = field(compare=False, default=None)
    # Items with the same key (a message id) are delivered one after another, in due order.
    key: str | None = field(compare=False, default=None)


@dataclass
class _Delivery:
    """One webhook POST (carrying one or more queue items) until delivered or dropped."""

    payload: WebhookPayload
    keys: tuple[str, ...]
    item_count: int
    first_due: float
    attempt: int = 1


class WebhookDispatcher:
    """A time-ordered webhook queue drained by one asyncio thread, started on first use.

    The thread's scheduler takes every due item per wake-up, builds the payloads (several
    statuses per webhook when ``statuses_per_webhook`` > 1) and hands them to ``senders``
    sender coroutines, each with its own keep-alive connection. While a message's status is
    being delivered (or waits for a retry), its later statuses wait, so they can never
    overtake it. ``transport`` (tests) replaces the network with an httpx transport.
    """

    def __init__(
        self,
        config_provider: Callable[[], DeliveryConfig],
        *,
        senders: int = 64,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config_provider = config_provider
        self._sender_count = max(1, senders)
        self._transport = transport
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._heap: list[_QueueItem] = []
        self._retries: list[tuple[float, int, _Delivery]] = []
        self._waiting: dict[str, deque[_QueueItem]] = {}
        self._busy_keys: set[str] = set()
        self._ready: deque[_Delivery] = deque()
        self._sending: dict[int, _Delivery] = {}
        self._unfinished = 0
        self._enqueued = 0
        self._sequence = itertools.count()
        # When the sleeping scheduler wakes by itself; -inf while it is awake.
        self._planned_wake = -math.inf
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._wake_future: asyncio.Future[None] | None = None
        self._ready_event: asyncio.Event | None = None
        self._is_closed = False
        self._client: httpx.Client | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self.counters = Counters()
        self.latency = LatencyRecorder()

    # -- producer side (any thread) --

    def schedule(self, delay: float, job: Job) -> None:
        """Run ``job`` after ``delay`` seconds and deliver what it returns."""
        key = job.message_id if isinstance(job, StatusJob) else None
        self._push(_QueueItem(self._monotonic() + max(0.0, delay), 0, job=job, key=key))

    def submit(self, payload: WebhookPayload, delay: float = 0.0) -> None:
        """Deliver an already built payload (also used to re-deliver it on purpose)."""
        keys = payload.ordering_keys()
        item = _QueueItem(
            self._monotonic() + max(0.0, delay), 0, payload=payload, key=keys[0] if keys else None
        )
        self._push(item)

    def _push(self, item: _QueueItem) -> None:
        if self._thread is None:
            self._ensure_started()
        with self._lock:
            if self._is_closed:
                return
            item.sequence = next(self._sequence)
            heapq.heappush(self._heap, item)
            self._unfinished += 1
            self._enqueued += 1
            if item.due < self._planned_wake:
                self._planned_wake = -math.inf
                self._wake_threadsafe()

    def _wake_threadsafe(self) -> None:
        """Wake the sleeping scheduler; caller holds the lock."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake)

    def clear(self) -> int:
        """Drop everything not yet being sent; returns how many items were dropped."""
        with self._lock:
            dropped = (
                len(self._heap)
                + sum(len(items) for items in self._waiting.values())
                + sum(delivery.item_count for delivery in self._ready)
                + sum(delivery.item_count for _, _, delivery in self._retries)
            )
            self._heap.clear()
            self._waiting.clear()
            self._ready.clear()
            self._retries.clear()
            self._busy_keys = {key for sent in self._sending.values() for key in sent.keys}
            self._finish_items(dropped)
        return dropped

    def pending(self) -> int:
        """Items queued, waiting for an earlier status, being sent or waiting for a retry."""
        with self._lock:
            return self._unfinished

    def flush(self, timeout: float) -> bool:
        """Wait until every item is delivered or dropped; False on timeout."""
        deadline = self._monotonic() + timeout
        with self._lock:
            while self._unfinished:
                remaining = deadline - self._monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def stats(self) -> dict[str, Any]:
        counts = self.counters.snapshot()
        with self._lock:
            pending, enqueued, in_flight = self._unfinished, self._enqueued, len(self._sending)
        return {
            "pending": pending,
            "in_flight": in_flight,
            "enqueued": enqueued,
            "delivered": counts.get("delivered", 0),
            "delivered_items": counts.get("delivered_items", 0),
            "failed_attempts": counts.get("failed_attempts", 0),
            "retried": counts.get("retried", 0),
            "dropped": counts.get("dropped", 0),
            "dropped_items": counts.get("dropped_items", 0),
            "skipped": counts.get("skipped", 0),
            "latency": self.latency.summary(),
        }

    def reset_stats(self) -> None:
        with self._lock:
            self._enqueued = self._unfinished
        self.counters.reset()
        self.latency.reset()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the delivery thread (queued items are dropped) and close connections."""
        self.clear()
        with self._lock:
            self._is_closed = True
            loop, thread = self._loop, self._thread
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._wake)
        if thread is not None:
            thread.join(timeout)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._client is not None:
            self._client.close()

    # -- the delivery thread --

    def _ensure_started(self) -> None:
        with self._lock:
            if self._thread is not None or self._is_closed:
                return
            if self._transport is not None:
                self._client = httpx.Client(
                    transport=self._transport, trust_env=False, headers={"User-Agent": USER_AGENT}
                )
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    self._sender_count, thread_name_prefix="simulator-webhooks-post"
                )
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._run_thread,
                args=(self._loop,),
                name="simulator-webhooks",
                daemon=True,
            )
            self._thread.start()

    def _run_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    def _wake(self) -> None:
        if self._wake_future is not None and not self._wake_future.done():
            self._wake_future.set_result(None)

    async def _main(self) -> None:
        ready_event = self._ready_event = asyncio.Event()
        senders = [
            asyncio.create_task(self._send_loop(ready_event)) for _ in range(self._sender_count)
        ]
        try:
            await self._schedule_loop()
        finally:
            for task in senders:
                task.cancel()
            await asyncio.gather(*senders, return_exceptions=True)

    async def _schedule_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            wake_future: asyncio.Future[None] | None = None
            self._run_due()
            config = self._config_provider()
            with self._lock:
                if self._is_closed:
                    return
                next_due = min(
                    self._heap[0].due if self._heap else math.inf,
                    self._retries[0][0] if self._retries else math.inf,
                )
                if config.statuses_per_webhook > 1:
                    # Statuses wait a moment for others to share their webhook.
                    next_due += BATCH_LINGER_SECONDS
                delay = next_due - self._monotonic()
                if delay > 0:
                    self._planned_wake = next_due
                    wake_future = self._wake_future = loop.create_future()
            if wake_future is None:
                # More is due already: let the senders run first.
                await asyncio.sleep(0)
                continue
            timer = loop.call_later(min(delay, 3600.0), self._wake)
            try:
                await wake_future
            finally:
                timer.cancel()
                with self._lock:
                    self._planned_wake = -math.inf

    def _run_due(self) -> None:
        """Move due retries and items to the senders; build payloads of due jobs."""
        now = self._monotonic()
        runnable: list[_QueueItem] = []
        with self._lock:
            while self._retries and self._retries[0][0] <= now:
                self._ready.append(heapq.heappop(self._retries)[2])
            while self._heap and self._heap[0].due <= now and len(runnable) < ROUND_MAX_ITEMS:
                item = heapq.heappop(self._heap)
                if item.key is not None:
                    if item.key in self._busy_keys:
                        self._waiting.setdefault(item.key, deque()).append(item)
                        continue
                    self._busy_keys.add(item.key)
                runnable.append(item)
        # Jobs run without this lock: they take the simulator's.
        deliveries = self._build(runnable, self._config_provider().statuses_per_webhook)
        with self._lock:
            self._ready.extend(deliveries)
        if self._ready and self._ready_event is not None:
            self._ready_event.set()

    def _build(self, items: list[_QueueItem], statuses_per_webhook: int) -> list[_Delivery]:
        deliveries: list[_Delivery] = []
        batch: list[tuple[_QueueItem, StatusJob, dict[str, Any]]] = []

        def close_batch() -> None:
            if batch:
                payload = batch[0][1].build([entry for _, _, entry in batch])
                deliveries.append(self._delivery(payload, [item for item, _, _ in batch]))
                batch.clear()

        for item in items:
            try:
                if statuses_per_webhook > 1 and isinstance(item.job, StatusJob):
                    entry = item.job.emit()
                    if entry is not None:
                        batch.append((item, item.job, entry))
                        if len(batch) >= statuses_per_webhook:
                            close_batch()
                        continue
                    payload = None
                elif item.payload is not None:
                    payload = item.payload
                else:
                    payload = item.job() if item.job is not None else None
            except Exception:
                # A bug in one job must not stop delivery of the others.
                logger.exception("Webhook job failed")
                payload = None
            if payload is None:
                self.counters.increment("skipped")
                with self._lock:
                    self._release_keys([item.key] if item.key else [])
                    self._finish_items(1)
                continue
            deliveries.append(self._delivery(payload, [item]))
        close_batch()
        return deliveries

    @staticmethod
    def _delivery(payload: WebhookPayload, items: list[_QueueItem]) -> _Delivery:
        return _Delivery(
            payload=payload,
            keys=tuple(item.key for item in items if item.key is not None),
            item_count=len(items),
            first_due=min(item.due for item in items),
        )

    async def _send_loop(self, ready_event: asyncio.Event) -> None:
        connection = KeepAliveConnection(user_agent=USER_AGENT)
        try:
            while True:
                with self._lock:
                    delivery = self._ready.popleft() if self._ready else None
                    if delivery is not None:
                        self._sending[id(delivery)] = delivery
                if delivery is None:
                    ready_event.clear()
                    await ready_event.wait()
                    continue
                config = self._config_provider()
                is_delivered = await self._post(connection, delivery.payload, config)
                self._complete(delivery, config, is_delivered=is_delivered)
        finally:
            connection.close()

    def _complete(self, delivery: _Delivery, config: DeliveryConfig, *, is_delivered: bool) -> None:
        with self._lock:
            self._sending.pop(id(delivery), None)
        if is_delivered:
            self.counters.increment("delivered")
            self.counters.increment("delivered_items", delivery.item_count)
            self.latency.record(max(0.0, self._monotonic() - delivery.first_due))
        else:
            self.counters.increment("failed_attempts")
            if delivery.attempt < config.webhook_max_attempts:
                # Exponential backoff like Meta's re-delivery, bounded by webhook_max_attempts.
                delay = config.webhook_retry_base_seconds * 2 ** (delivery.attempt - 1)
                self.counters.increment("retried")
                delivery.attempt += 1
                with self._lock:
                    if not self._is_closed:
                        heapq.heappush(
                            self._retries,
                            (self._monotonic() + delay, next(self._sequence), delivery),
                        )
                        self._wake()
                        return
            self.counters.increment("dropped")
            self.counters.increment("dropped_items", delivery.item_count)
            logger.warning(
                "Dropped %s webhook for %s after %d attempts",
                delivery.payload.kind,
                delivery.payload.reference,
                delivery.attempt,
            )
        with self._lock:
            self._release_keys(delivery.keys)
            self._finish_items(delivery.item_count)

    def _release_keys(self, keys: list[str] | tuple[str, ...]) -> None:
        """A message's status is done: its next waiting status becomes due; caller holds lock."""
        for key in keys:
            self._busy_keys.discard(key)
            waiting = self._waiting.get(key)
            if waiting:
                heapq.heappush(self._heap, waiting.popleft())
                if not waiting:
                    del self._waiting[key]
                self._wake()

    def _finish_items(self, count: int) -> None:
        """Caller holds the lock."""
        self._unfinished -= count
        if self._unfinished <= 0:
            self._unfinished = 0
            self._idle.notify_all()

    async def _post(
        self, connection: KeepAliveConnection, payload: WebhookPayload, config: DeliveryConfig
    ) -> bool:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: payload.signature}
        try:
            if self._client is not None:
                loop = asyncio.get_running_loop()
                status = await loop.run_in_executor(
                    self._executor, _post_with_httpx, self._client, payload, headers, config
                )
            else:
                status = await connection.post(
                    config.webhook_url, payload.body, headers, config.webhook_timeout_seconds
                )
        except (httpx.HTTPError, OSError, TimeoutError, ValueError) as error:
            logger.debug(
                "Webhook delivery error for %s: %s", payload.reference, type(error).__name__
            )
            return False
        if 200 <= status < 300:
            return True
        logger.debug("Webhook for %s answered HTTP %d", payload.reference, status)
        return False


def _post_with_httpx(
    client: httpx.Client, payload: WebhookPayload, headers: dict[str, str], config: DeliveryConfig
) -> int:
    response = client.post(
        config.webhook_url,
        content=payload.body,
        headers=headers,
        timeout=config.webhook_timeout_seconds,
    )
    return response.status_code
