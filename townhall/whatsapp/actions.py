"""Every state change of the WhatsApp transport: intake, processing, sending, statuses.

Views, workers, management commands and tests call these functions; nothing else saves
``WebhookEvent``, ``Message`` or ``MessageStatusEvent`` rows.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.module_loading import import_string

from townhall.core import clock
from townhall.core.privacy import redact
from townhall.whatsapp import outbound
from townhall.whatsapp.client import get_client
from townhall.whatsapp.errors import CloudAPIError
from townhall.whatsapp.models import STATUS_RANK, Message, MessageStatusEvent, WebhookEvent
from townhall.whatsapp.policy import Purpose, SendRefused, check_send_allowed
from townhall.whatsapp.types import (
    InboundMessage,
    MalformedWebhook,
    StatusUpdate,
    parse_webhook,
    webhook_envelope,
)

logger = logging.getLogger(__name__)

# Work older than this without progress is considered lost (worker crash, lost enqueue).
STALE_AFTER = timedelta(minutes=2)
# A claim on a message whose API call never came back; its outcome is unknown.
SENDING_TIMEOUT = timedelta(minutes=10)
# Messages to one person leave in the order they were queued (a welcome before the topic list).
# Older unsent messages stop holding back newer ones after this long, so one stuck row can
# never silence a citizen for good.
SEND_ORDER_WINDOW = timedelta(minutes=30)


# --- intake -------------------------------------------------------------------------------------


def do_record_webhook_event(body: bytes, *, is_readable: bool = True) -> WebhookEvent | None:
    """Store a signed webhook body durably; enqueue its processing after commit.

    Returns None when the identical body was stored before (Meta re-delivers at least once).
    ``is_readable=False`` keeps an unreadable body for inspection without processing it.
    """
    digest = hashlib.sha256(body).hexdigest()
    state = WebhookEvent.State.PENDING if is_readable else WebhookEvent.State.REJECTED
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                body_sha256=digest,
                # Meta sends UTF-8 JSON; an unreadable body is kept as best we can show it.
                body=body.decode("utf-8", errors="replace"),
                state=state,
                error="" if is_readable else "body is not valid JSON",
            )
            if is_readable:
                _enqueue_on_commit("process_webhook_event", event.pk)
    except IntegrityError:
        return None
    return event


def do_process_webhook_event(event_id: int) -> None:
    """Parse a stored webhook and store its messages and statuses, each exactly once.

    Safe to run more than once for the same event.
    """
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None or event.state != WebhookEvent.State.PENDING:
            return
        event.attempts += 1
        try:
            parsed = parse_webhook(orjson.loads(event.body))
        except (orjson.JSONDecodeError, MalformedWebhook) as error:
            event.state = WebhookEvent.State.REJECTED
            event.error = str(error)[:500]
            event.processed_at = clock.now()
            event.save(update_fields=["state", "error", "processed_at", "attempts"])
            logger.warning("webhook.rejected event=%s reason=%s", event.pk, event.error)
            return
        new_message_ids = [
            message_id
            for message_id in (_store_inbound_message(message) for message in parsed.messages)
            if message_id is not None
        ]
        for status in parsed.statuses:
            _store_status(status)
        event.state = WebhookEvent.State.PROCESSED
        event.processed_at = clock.now()
        event.error = "; ".join(parsed.skipped)[:500]
        event.save(update_fields=["state", "error", "processed_at", "attempts"])
        for message_id in new_message_ids:
            _enqueue_on_commit("handle_inbound_message", message_id)
    for problem in parsed.skipped:
        logger.warning("webhook.skipped event=%s %s", event_id, problem)
    for webhook_error in parsed.errors:
        logger.warning("webhook.error event=%s code=%s", event_id, webhook_error.code)
    logger.info(
        "webhook.processed event=%s messages=%d new=%d statuses=%d",
        event_id,
        len(parsed.messages),
        len(new_message_ids),
        len(parsed.statuses),
    )


def do_mark_webhook_event_failed(event_id: int, reason: str) -> None:
    """Called when processing crashed for good: keep the event, say why, stop retrying."""
    WebhookEvent.objects.filter(pk=event_id, state=WebhookEvent.State.PENDING).update(
        state=WebhookEvent.State.FAILED, error=reason[:500], processed_at=clock.now()
    )


def _store_inbound_message(message: InboundMessage) -> int | None:
    """Insert one inbound message; None when its id is already stored."""
    raw = message.content
    payload: dict[str, Any] = {"type": message.type, message.type: raw} if raw else {}
    if message.context is not None:
        payload["context"] = {
            "forwarded": message.context.forwarded,
            "frequently_forwarded": message.context.frequently_forwarded,
            "id": message.context.replied_to_id,
        }
    if message.errors:
        payload["errors"] = [{"code": e.code, "title": e.title} for e in message.errors]
    try:
        with transaction.atomic():
            stored = Message.objects.create(
                provider_id=message.id,
                direction=Message.Direction.INBOUND,
                wa_id=message.from_wa_id,
                profile_name=message.profile_name,
                type=message.type,
                text=message.text,
                payload=payload,
                context_provider_id=message.context.replied_to_id if message.context else "",
                status=Message.Status.RECEIVED,
                created_at=message.timestamp,
                status_updated_at=message.timestamp,
            )
    except IntegrityError:
        logger.info("webhook.duplicate_message id=%s", message.id)
        return None
    return stored.pk


def _store_status(status: StatusUpdate) -> None:
    errors = [
        {"code": e.code, "title": e.title, "message": e.message, "details": e.details}
        for e in status.errors
    ]
    try:
        with transaction.atomic():
            MessageStatusEvent.objects.create(
                provider_message_id=status.message_id,
                status=status.status,
                recipient_wa_id=status.recipient_wa_id,
                occurred_at=status.timestamp,
                errors=errors,
                pricing=dict(status.pricing),
            )
    except IntegrityError:
        return
    message = (
        Message.objects.select_for_update()
        .filter(provider_id=status.message_id, direction=Message.Direction.OUTBOUND)
        .first()
    )
    if message is not None:
        _apply_status_events(message, [status.status], errors)


def _apply_status_events(message: Message, statuses: Iterable[str], errors: list[dict]) -> None:
    """Move ``message`` to the furthest of ``statuses``; caller holds a row lock on it.

    ``errors`` are the error objects of failed statuses; the first one is kept.
    """
    best = message.status
    for status in statuses:
        if status in STATUS_RANK and STATUS_RANK[status] > STATUS_RANK.get(best, -1):
            best = status
    fields = []
    if best != message.status:
        message.status = best
        message.status_updated_at = clock.now()
        fields += ["status", "status_updated_at"]
    if best == Message.Status.FAILED and errors:
        message.error_code = errors[0].get("code")
        message.error_title = str(errors[0].get("title", ""))[:255]
        fields += ["error_code", "error_title"]
    if fields:
        message.save(update_fields=fields)


# --- inbound handling ---------------------------------------------------------------------------


def inbound_handlers() -> list[Callable[[InboundMessage, Message], None]]:
    return [import_string(path) for path in settings.WHATSAPP["INBOUND_HANDLERS"]]


def inbound_message_from_row(stored: Message) -> InboundMessage:
    """Rebuild the typed message from what we stored, for handlers running in a worker."""
    payload = dict(stored.payload)
    raw_message: dict[str, Any] = {
        **payload,
        "from": stored.wa_id,
        "id": stored.provider_id,
        "timestamp": str(int(stored.created_at.timestamp())),
        "type": stored.type,
    }
    if stored.context_provider_id and "context" in payload:
        raw_message["context"] = dict(payload["context"])
    envelope = webhook_envelope(
        {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": settings.WHATSAPP["DISPLAY_PHONE_NUMBER"],
                "phone_number_id": settings.WHATSAPP["PHONE_NUMBER_ID"],
            },
            "contacts": [{"profile": {"name": stored.profile_name}, "wa_id": stored.wa_id}],
            "messages": [raw_message],
        },
        waba_id=settings.WHATSAPP["BUSINESS_ACCOUNT_ID"],
    )
    parsed = parse_webhook(envelope)
    if not parsed.messages:
        raise MalformedWebhook("stored message could not be rebuilt")
    return parsed.messages[0]


class InboundHandlingFailed(Exception):
    """A handler raised; the message stays unhandled and is tried again later."""


def do_handle_inbound_message(message_id: int) -> None:
    """Run the business handlers for a newly stored inbound message, exactly once.

    The handlers run inside the same transaction that marks the message handled, so a
    crash leaves it unhandled rather than half-handled. Each failure is counted on the row;
    after ``INBOUND_MAX_ATTEMPTS`` the message is parked as ``handling_failed`` (shown in the
    message log) instead of being retried forever. Raises ``InboundHandlingFailed`` while
    attempts remain, so the task engine retries.
    """
    try:
        with transaction.atomic():
            stored = (
                Message.objects.select_for_update()
                .filter(
                    pk=message_id,
                    direction=Message.Direction.INBOUND,
                    status=Message.Status.RECEIVED,
                    handled_at__isnull=True,
                )
                .first()
            )
            if stored is None:
                return
            message = inbound_message_from_row(stored)
            for handler in inbound_handlers():
                handler(message, stored)
            stored.handled_at = clock.now()
            stored.save(update_fields=["handled_at"])
    except Exception as error:
        if _record_handling_failure(message_id, error):
            raise InboundHandlingFailed(f"message {message_id}") from error


def _record_handling_failure(message_id: int, error: Exception) -> bool:
    """Count a failed handling attempt; True while attempts remain."""
    max_attempts = settings.WHATSAPP["INBOUND_MAX_ATTEMPTS"]
    with transaction.atomic():
        stored = Message.objects.select_for_update().get(pk=message_id)
        stored.attempts += 1
        # The exception's class only: its text may quote the citizen's message.
        stored.error_title = f"Handling failed: {type(error).__name__}"[:255]
        stored.status_updated_at = clock.now()
        if stored.attempts >= max_attempts:
            stored.status = Message.Status.HANDLING_FAILED
        stored.save(update_fields=["attempts", "error_title", "status_updated_at", "status"])
    logger.error(
        "whatsapp.inbound_handling_failed message=%s error=%s attempt=%d of %d",
        message_id,
        type(error).__name__,
        stored.attempts,
        max_attempts,
    )
    return stored.attempts < max_attempts


def do_retry_inbound_message(message_id: int, *, acting_user: Any) -> bool:
    """Give a parked (``handling_failed``) message a fresh set of attempts; False if it is
    not parked."""
    retried = Message.objects.filter(
        pk=message_id,
        direction=Message.Direction.INBOUND,
        status=Message.Status.HANDLING_FAILED,
        handled_at__isnull=True,
    ).update(status=Message.Status.RECEIVED, attempts=0, status_updated_at=clock.now())
    if retried:
        _enqueue_on_commit("handle_inbound_message", message_id)
        logger.info(
            "whatsapp.inbound_retried message=%s user=%s",
            message_id,
            getattr(acting_user, "pk", None),
        )
    return bool(retried)


# --- sending ------------------------------------------------------------------------------------


def do_queue_message(
    wa_id: str,
    message: outbound.OutboundMessage,
    *,
    purpose: Purpose,
    topic: str = "",
    reply_to: str = "",
    acting_user: Any = None,
) -> Message:
    """Store an outbound message as queued; the worker sends it after commit.

    Raises ``SendRefused`` (nothing stored) when the citizen has not consented to
    ``purpose``. The row is the durable record: a lost task is re-sent by the sweeper.
    """
    wa_id = wa_id.lstrip("+")
    if not wa_id.isdigit():
        raise outbound.InvalidOutboundMessage("A WhatsApp id has digits only")
    check_send_allowed(wa_id, purpose, topic)
    with transaction.atomic():
        stored = Message.objects.create(
            direction=Message.Direction.OUTBOUND,
            wa_id=wa_id,
            type=message.type,
            text=message.summary(),
            payload=message.to_payload(),
            context_provider_id=reply_to,
            status=Message.Status.QUEUED,
            purpose=purpose,
            topic=topic,
        )
        _enqueue_on_commit("send_message", stored.pk)
    logger.info(
        "whatsapp.queued message=%s type=%s to=%s user=%s",
        stored.pk,
        message.type,
        redact(wa_id),
        getattr(acting_user, "pk", None),
    )
    return stored


def do_send_queued_message(message_id: int) -> float | None:
    """Send one queued message through the Cloud API and record the outcome.

    Returns the delay in seconds after which the caller should try again, or None.
    The claim (queued -> sending) is a conditional update, so two workers never send the
    same message; the HTTP call runs outside any transaction.
    """
    # A retry waits for its time: a duplicate task (sweeper, hand-over) that comes early
    # leaves the row alone; the task scheduled for next_attempt_at sends it.
    queued = Message.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=clock.now()),
        pk=message_id,
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.QUEUED,
    )
    candidate = queued.values("wa_id", "created_at").first()
    if candidate is None:
        return None
    if _earlier_send_pending(message_id, candidate["wa_id"], candidate["created_at"]):
        # Stays queued; the earlier message hands over when it is done (_send_next_in_line).
        logger.debug("whatsapp.send_waits_for_earlier message=%s", message_id)
        return None
    claimed = queued.update(status=Message.Status.SENDING, status_updated_at=clock.now())
    if not claimed:
        return None
    stored = Message.objects.get(pk=message_id)
    try:
        check_send_allowed(stored.wa_id, Purpose(stored.purpose), stored.topic)
    except (SendRefused, ValueError) as refusal:
        Message.objects.filter(pk=message_id).update(
            status=Message.Status.CANCELLED,
            error_title=f"Not sent: {refusal}"[:255],
            status_updated_at=clock.now(),
        )
        logger.info("whatsapp.send_cancelled message=%s purpose=%s", message_id, stored.purpose)
        _send_next_in_line(stored.wa_id)
        return None
    try:
        result = get_client().send_raw(
            stored.wa_id, stored.payload, reply_to=stored.context_provider_id
        )
    except CloudAPIError as error:
        retry_in = _record_send_error(stored, error)
        if retry_in is None:
            _send_next_in_line(stored.wa_id)
        return retry_in
    with transaction.atomic():
        stored = Message.objects.select_for_update().get(pk=message_id)
        stored.provider_id = result.message_id
        stored.attempts += 1
        stored.status = Message.Status.ACCEPTED
        stored.status_updated_at = clock.now()
        stored.error_code = None
        stored.error_title = ""
        stored.save(
            update_fields=[
                "provider_id",
                "attempts",
                "status",
                "status_updated_at",
                "error_code",
                "error_title",
            ]
        )
        # Status webhooks can overtake this write; apply the ones that already arrived.
        early = list(
            MessageStatusEvent.objects.filter(provider_message_id=result.message_id).values(
                "status", "errors"
            )
        )
        if early:
            errors = [error for event in early for error in event["errors"]]
            _apply_status_events(stored, [event["status"] for event in early], errors)
    _send_next_in_line(stored.wa_id)
    return None


def _earlier_send_pending(message_id: int, wa_id: str, created_at: datetime) -> bool:
    return Message.objects.filter(
        wa_id=wa_id,
        direction=Message.Direction.OUTBOUND,
        status__in=[Message.Status.QUEUED, Message.Status.SENDING],
        created_at__gte=created_at - SEND_ORDER_WINDOW,
        pk__lt=message_id,
    ).exists()


def _send_next_in_line(wa_id: str) -> None:
    """Hand over to the oldest message still queued for the same person, if it is due."""
    next_id = (
        Message.objects.filter(
            wa_id=wa_id, direction=Message.Direction.OUTBOUND, status=Message.Status.QUEUED
        )
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=clock.now()))
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if next_id is not None:
        _enqueue_on_commit("send_message", next_id)


def _record_send_error(stored: Message, error: CloudAPIError) -> float | None:
    attempts = stored.attempts + 1
    max_attempts = settings.WHATSAPP["SEND_MAX_ATTEMPTS"]
    retry_in: float | None = None
    if error.is_retryable and attempts < max_attempts:
        retry_in = retry_delay(attempts)
    with transaction.atomic():
        stored = Message.objects.select_for_update().get(pk=stored.pk)
        stored.attempts = attempts
        stored.error_code = error.code
        stored.error_title = f"{type(error).__name__}: {error.message}"[:255]
        stored.status_updated_at = clock.now()
        if retry_in is not None:
            stored.status = Message.Status.QUEUED
            stored.next_attempt_at = clock.now() + timedelta(seconds=retry_in)
        else:
            stored.status = Message.Status.FAILED
            stored.next_attempt_at = None
        stored.save(
            update_fields=[
                "attempts",
                "error_code",
                "error_title",
                "status",
                "status_updated_at",
                "next_attempt_at",
            ]
        )
    logger.warning(
        "whatsapp.send_failed message=%s error=%s code=%s attempt=%d retry_in=%s",
        stored.pk,
        type(error).__name__,
        error.code,
        attempts,
        None if retry_in is None else round(retry_in, 1),
    )
    return retry_in


def retry_delay(attempt: int) -> float:
    """Exponential backoff with full jitter: spreads retries of a burst over time."""
    base = settings.WHATSAPP["SEND_RETRY_BASE_SECONDS"]
    ceiling = base * (2 ** (attempt - 1))
    return base + random.uniform(0, ceiling)  # noqa: S311 - jitter, not security


def do_mark_as_read(message: Message) -> None:
    """Show the citizen blue ticks on their message."""
    if message.direction != Message.Direction.INBOUND or not message.provider_id:
        raise ValueError("Only inbound messages can be marked as read")
    get_client().mark_as_read(message.provider_id)


# --- recovery -----------------------------------------------------------------------------------


def do_requeue_stale_work(now: datetime | None = None) -> dict[str, int]:
    """Re-enqueue work whose task was lost; give up on sends with unknown outcome."""
    now = now or clock.now()
    counts = {"events": 0, "inbound": 0, "sends": 0, "unknown_outcome": 0}
    for event_id in WebhookEvent.objects.filter(
        state=WebhookEvent.State.PENDING, received_at__lt=now - STALE_AFTER
    ).values_list("pk", flat=True)[:500]:
        _enqueue("process_webhook_event", event_id)
        counts["events"] += 1
    for message_id in Message.objects.filter(
        direction=Message.Direction.INBOUND,
        status=Message.Status.RECEIVED,
        handled_at__isnull=True,
        created_at__lt=now - STALE_AFTER,
    ).values_list("pk", flat=True)[:500]:
        _enqueue("handle_inbound_message", message_id)
        counts["inbound"] += 1
    for message_id in Message.objects.filter(
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.QUEUED,
        status_updated_at__lt=now - STALE_AFTER,
    ).values_list("pk", flat=True)[:500]:
        _enqueue("send_message", message_id)
        counts["sends"] += 1
    # A crash between claim and answer: Meta may or may not have the message. Sending it
    # again could reach the citizen twice, so it is marked failed for a person to decide.
    counts["unknown_outcome"] = Message.objects.filter(
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.SENDING,
        status_updated_at__lt=now - SENDING_TIMEOUT,
    ).update(
        status=Message.Status.FAILED,
        error_title="Outcome unknown: the worker stopped while sending",
        status_updated_at=now,
    )
    return counts


def do_purge_processed_webhook_events(now: datetime | None = None) -> int:
    """Delete raw bodies of processed events past the retention period.

    They hold phone numbers and texts; once parsed into rows they are only needed for
    debugging. Rejected and failed events are kept for inspection until a person acts.
    """
    now = now or clock.now()
    cutoff = now - timedelta(days=settings.WHATSAPP["WEBHOOK_RETENTION_DAYS"])
    deleted, _ = WebhookEvent.objects.filter(
        state=WebhookEvent.State.PROCESSED, received_at__lt=cutoff
    ).delete()
    return deleted


def do_erase_messages(wa_id: str, pseudonym: str) -> int:
    """Remove a citizen's personal data from the message log (for erasure requests).

    Message rows stay for statistics, re-keyed to ``pseudonym`` and emptied of text, payload
    and name; status events lose the number; stored webhook bodies that mention the number
    are deleted. Returns the number of messages anonymised.
    """
    with transaction.atomic():
        provider_ids = list(
            Message.objects.filter(wa_id=wa_id)
            .exclude(provider_id__isnull=True)
            .values_list("provider_id", flat=True)
        )
        count = Message.objects.filter(wa_id=wa_id).update(
            wa_id=pseudonym, text="", payload={}, profile_name="", context_provider_id=""
        )
        MessageStatusEvent.objects.filter(provider_message_id__in=provider_ids).update(
            recipient_wa_id=""
        )
        MessageStatusEvent.objects.filter(recipient_wa_id=wa_id).update(recipient_wa_id="")
        WebhookEvent.objects.filter(body__contains=wa_id).delete()
    return count


# --- helpers ------------------------------------------------------------------------------------


def _enqueue(task_name: str, *args: Any) -> None:
    from townhall.whatsapp import tasks  # tasks import this module

    getattr(tasks, task_name)(*args)


def _enqueue_on_commit(task_name: str, *args: Any) -> None:
    transaction.on_commit(lambda: _enqueue(task_name, *args))
