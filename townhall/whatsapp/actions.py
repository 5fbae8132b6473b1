"""Every state change of the WhatsApp transport: intake, processing, sending, statuses.

Views, workers, management commands and tests call these functions; nothing else saves
``WebhookEvent``, ``Message`` or ``MessageStatusEvent`` rows.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
import redis
from django.conf import settings
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils.module_loading import import_string

from townhall.citysettings.config import whatsapp_setting
from townhall.core import clock
from townhall.core.group_commit import GroupCommit
from townhall.core.privacy import redact
from townhall.whatsapp import outbound
from townhall.whatsapp.client import (
    LATE_SLOT_SECONDS,
    CloudAPIClient,
    SendRequest,
    SendResult,
    get_client,
)
from townhall.whatsapp.errors import (
    CloudAPIError,
    OutcomeUnknown,
    SlotMissed,
    ThroughputLimited,
)
from townhall.whatsapp.models import (
    STATUS_RANK,
    Message,
    MessageReaction,
    MessageStatusEvent,
    WebhookEvent,
)
from townhall.whatsapp.policy import Purpose, check_send_allowed, refusals
from townhall.whatsapp.rate_limit import RateLimiter, get_limiter
from townhall.whatsapp.template_actions import do_apply_template_statuses
from townhall.whatsapp.types import (
    InboundMessage,
    MalformedWebhook,
    ParsedWebhook,
    StatusUpdate,
    TemplateStatusUpdate,
    parse_webhook,
    webhook_envelope,
)

logger = logging.getLogger(__name__)

# Work older than this without progress is considered lost (worker crash, lost enqueue).
STALE_AFTER = timedelta(minutes=2)

# Errors of the task queue's storage when it is unreachable (Redis stopped, restarting, out of
# reach); see _enqueue.
QUEUE_DOWN_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
# How long one dispatcher may take for its batch; dispatchers yield the worker thread after
# it, so webhooks and inbound messages get their turn between broadcast slices.
DISPATCH_SLICE_SECONDS = 0.5
# How much sending one claim covers (see do_dispatch_batch).
CLAIM_SECONDS = 0.5
# How often a send that missed its slot is booked again before it leaves late (see
# _send_paced): on a machine too busy to keep any slot, messages still go out.
SLOT_REBOOKINGS = 3
# How often requests that Meta refused with 130429 (throughput) are booked again within
# their batch, after a pause that doubles each time; after that they take the retry path.
THROUGHPUT_REBOOKINGS = 3
# Recipients checked for consent and inserted per round trip by do_queue_messages.
QUEUE_CHUNK = 2000
# Applying a batch of statuses again after a deadlock (see _apply_statuses).
APPLY_ATTEMPTS = 4
# Webhooks parsed, stored and applied together: one claim, one bulk insert of statuses and a
# handful of UPDATEs per batch instead of ~10 round trips per webhook.
WEBHOOK_BATCH_SIZE = 500
# Messages to one person leave in the order they were queued (a welcome before the topic list).
# Older unsent messages stop holding back newer ones after this long, so one stuck row can
# never silence a citizen for good.
SEND_ORDER_WINDOW = timedelta(minutes=30)


# --- intake -------------------------------------------------------------------------------------


def do_record_webhook_event(body: bytes, *, is_readable: bool = True) -> int | None:
    """Store a signed webhook body durably; start its processing once committed. Returns
    the new event's id, or None when the identical body was stored before (Meta re-delivers
    at least once). ``is_readable=False`` keeps an unreadable body for inspection without
    processing it.

    This is the hot path of intake (~3 status webhooks per message sent): outside a
    transaction, the bodies that request threads bring at the same moment are stored with
    one statement and one commit (group commit), and each call returns once its own body is
    committed. Inside a transaction the row is the caller's to commit.
    """
    row = (
        hashlib.sha256(body).hexdigest(),
        # Meta sends UTF-8 JSON; an unreadable body is kept as best we can show it
        # (PostgreSQL text cannot hold NUL, which valid JSON never has unescaped).
        body.decode("utf-8", errors="replace")
        if is_readable
        else body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        connection.ops.adapt_datetimefield_value(clock.now()),
        WebhookEvent.State.PENDING if is_readable else WebhookEvent.State.REJECTED,
        "" if is_readable else "body is not valid JSON",
    )
    if connection.in_atomic_block:
        (event_id,) = _insert_webhook_events([row])
        if event_id is not None and is_readable:
            transaction.on_commit(_webhook_trigger.poke)
        return event_id
    event_id = _webhook_intake.submit(row)
    if event_id is not None and is_readable:
        _webhook_trigger.poke()
    return event_id


def _insert_webhook_events(rows: list[tuple[Any, ...]]) -> list[int | None]:
    """Insert webhook rows with one statement; per row its new id, or None for a body that
    was stored before (or earlier in ``rows``)."""
    values = ", ".join(["(%s, %s, %s, %s, 0, %s)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"{_INSERT_WEBHOOK_EVENTS} {values} {_ON_NEW_WEBHOOK_EVENTS}",
            [value for row in rows for value in row],
        )
        stored = dict((digest, event_id) for event_id, digest in cursor.fetchall())
    # pop: of identical bodies in one group, the first is the new one
    return [stored.pop(row[0], None) for row in rows]


# The table name is our model's; every value is a parameter.
_INSERT_WEBHOOK_EVENTS = (
    f"INSERT INTO {WebhookEvent._meta.db_table}"
    " (body_sha256, body, received_at, state, attempts, error) VALUES"
)
_ON_NEW_WEBHOOK_EVENTS = "ON CONFLICT (body_sha256) DO NOTHING RETURNING id, body_sha256"
# Bodies per statement: a burst of small status webhooks, not a megabyte of media captions.
WEBHOOK_GROUP_SIZE = 64
_webhook_intake: GroupCommit[tuple[Any, ...], int | None] = GroupCommit(
    _insert_webhook_events, max_group=WEBHOOK_GROUP_SIZE
)


class _Trigger:
    """Starts the webhook processing task at most every ``interval`` seconds per process,
    and always once more after the last webhook: at 3,000 webhooks/s one task drains a
    batch, where one task per webhook would cost more than the webhook itself."""

    def __init__(self, task_name: str, interval: float) -> None:
        self.task_name, self.interval = task_name, interval
        self._lock = threading.Lock()
        self._last = 0.0
        self._timer_pending = False

    def poke(self) -> None:
        from huey.contrib.djhuey import HUEY

        if HUEY.immediate:
            _enqueue(self.task_name)
            return
        with self._lock:
            now = time.monotonic()
            if now - self._last >= self.interval:
                self._last = now
                fire = True
            elif not self._timer_pending:
                self._timer_pending = True
                timer = threading.Timer(self.interval - (now - self._last), self._fire_later)
                timer.daemon = True
                timer.start()
                return
            else:
                return
        if fire:
            _enqueue(self.task_name, time.time())

    def _fire_later(self) -> None:
        with self._lock:
            self._timer_pending = False
            self._last = time.monotonic()
        _enqueue(self.task_name, time.time())


_webhook_trigger = _Trigger("process_webhook_events", interval=0.1)


# Seconds of clock difference between web and worker machines that a poke's time allows.
POKE_CLOCK_MARGIN_SECONDS = 0.05


@dataclass
class _Drains:
    """When the latest drain of this process began that ended caught up (wall clock, to
    compare with the web's poke times)."""

    caught_up_from: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)


_drains = _Drains()


def do_process_webhook_events(
    seconds: float = DISPATCH_SLICE_SECONDS, *, poked_at: float | None = None
) -> bool:
    """Process pending webhooks batch after batch for about ``seconds``; True if work is left.

    ``poked_at``: when the web server asked for this run, after storing its webhooks. If a
    drain that began later has caught up, those webhooks are processed and this run ends at
    once. While the dispatchers held every worker thread during a broadcast, the web's
    pokes (up to ten per second per web process) piled up; each one then cost a query for
    nothing, and together they kept the threads from the dispatchers for up to 160 ms, when
    nobody booked send slots."""
    started = time.time()
    if (
        poked_at is not None
        and poked_at < _drains.caught_up_from - POKE_CLOCK_MARGIN_SECONDS
        # A drain "later" than now: the clock was set back since; no run is skipped on it.
        and _drains.caught_up_from <= started
    ):
        return False
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        # Less than a full batch: caught up. The next webhook's trigger starts a new task;
        # looping on here would keep a worker thread (which the dispatchers need) for a
        # trickle of small batches.
        if do_process_pending_webhook_events() < WEBHOOK_BATCH_SIZE:
            with _drains.lock:
                if started > _drains.caught_up_from or _drains.caught_up_from > time.time():
                    _drains.caught_up_from = started
            return False
    return True


def do_process_webhook_event(event_id: int) -> None:
    """Process one stored webhook (see ``do_process_pending_webhook_events``)."""
    _process_events(WebhookEvent.objects.filter(pk=event_id))


def do_process_pending_webhook_events(limit: int = WEBHOOK_BATCH_SIZE) -> int:
    """Parse up to ``limit`` pending webhooks and store their messages and statuses, each
    exactly once; returns how many were taken. Workers running this side by side take
    different events (SKIP LOCKED on PostgreSQL; SQLite has one writer)."""
    return _process_events(WebhookEvent.objects.all(), limit=limit)


def _process_events(events: QuerySet[WebhookEvent], *, limit: int = WEBHOOK_BATCH_SIZE) -> int:
    now = clock.now()
    new_message_ids: list[int] = []
    reactions: list[ReactionChange] = []
    statuses: list[StatusUpdate] = []
    template_updates: list[TemplateStatusUpdate] = []
    notes: list[tuple[int, ParsedWebhook]] = []
    with transaction.atomic():
        claimed = list(
            events.filter(state=WebhookEvent.State.PENDING)
            .order_by("pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", "body")[:limit]
        )
        if not claimed:
            return 0
        processed: list[int] = []
        for event_id, body in claimed:
            try:
                parsed = parse_webhook(orjson.loads(body))
            except (orjson.JSONDecodeError, MalformedWebhook) as error:
                WebhookEvent.objects.filter(pk=event_id).update(
                    state=WebhookEvent.State.REJECTED,
                    error=str(error)[:500],
                    processed_at=now,
                    attempts=F("attempts") + 1,
                )
                logger.warning("webhook.rejected event=%s reason=%s", event_id, str(error)[:200])
                continue
            for message in parsed.messages:
                message_id = _store_inbound_message(message)
                if message_id is not None:
                    new_message_ids.append(message_id)
                    if message.reaction is not None:
                        reactions.append(
                            ReactionChange(
                                message_provider_id=message.reaction.message_id,
                                wa_id=message.from_wa_id,
                                from_business=False,
                                emoji=message.reaction.emoji,
                                reacted_at=message.timestamp,
                                reaction_message_id=message_id,
                                webhook_event_id=event_id,
                            )
                        )
            statuses.extend(parsed.statuses)
            template_updates.extend(parsed.template_updates)
            processed.append(event_id)
            if parsed.skipped or parsed.errors:
                notes.append((event_id, parsed))
        do_record_reactions(reactions)
        _store_statuses(statuses)
        if template_updates:
            # Rare (a review decision); applied with the event so neither is lost alone.
            do_apply_template_statuses(template_updates)
        WebhookEvent.objects.filter(pk__in=processed).update(
            state=WebhookEvent.State.PROCESSED, processed_at=now, attempts=F("attempts") + 1
        )
        for event_id, parsed in notes:
            if parsed.skipped:
                WebhookEvent.objects.filter(pk=event_id).update(
                    error="; ".join(parsed.skipped)[:500]
                )
        for message_id in new_message_ids:
            _enqueue_on_commit("handle_inbound_message", message_id)
    # The statuses are committed before they are applied; see _apply_statuses.
    _apply_statuses(statuses)
    for event_id, parsed in notes:
        for problem in parsed.skipped:
            logger.warning("webhook.skipped event=%s %s", event_id, problem)
        for webhook_error in parsed.errors:
            logger.warning("webhook.error event=%s code=%s", event_id, webhook_error.code)
    logger.info(
        "webhook.processed events=%d new_messages=%d statuses=%d",
        len(claimed),
        len(new_message_ids),
        len(statuses),
    )
    return len(claimed)


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


@dataclass(frozen=True, slots=True)
class ReactionChange:
    """One reaction as it happened: a new emoji, a changed one, or a removal (empty)."""

    message_provider_id: str
    wa_id: str
    from_business: bool
    emoji: str
    reacted_at: datetime
    reaction_message_id: int | None = None
    # The stored webhook that carried it (None: the city's own reaction).
    webhook_event_id: int | None = None


_REACTION_TABLE = MessageReaction._meta.db_table
_UPSERT_REACTION = (
    f"INSERT INTO {_REACTION_TABLE}"  # noqa: S608
    " (message_provider_id, wa_id, from_business, emoji, reacted_at, reaction_message_id,"
    " webhook_event_id)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (message_provider_id, wa_id, from_business) DO UPDATE SET"
    " emoji = excluded.emoji, reacted_at = excluded.reacted_at,"
    " reaction_message_id = excluded.reaction_message_id,"
    " webhook_event_id = excluded.webhook_event_id"
    # Webhooks are not ordered: a change older than the stored one is ignored. In the same
    # second, the one whose webhook arrived later wins, even when two workers apply them
    # in the other order.
    f" WHERE excluded.reacted_at > {_REACTION_TABLE}.reacted_at"
    f" OR (excluded.reacted_at = {_REACTION_TABLE}.reacted_at"
    f" AND COALESCE(excluded.webhook_event_id, 0) >= COALESCE({_REACTION_TABLE}.webhook_event_id, 0))"
)


def do_record_reactions(changes: Sequence[ReactionChange]) -> None:
    """Store reactions, the latest per reactor and message winning (removals included).

    One statement for the batch; a late change never overwrites a newer one. Reactions are
    data about messages only: they never touch a conversation (see citizens.routing).
    """
    if not changes:
        return
    adapt = connection.ops.adapt_datetimefield_value
    rows = [
        (
            change.message_provider_id,
            change.wa_id,
            change.from_business,
            change.emoji,
            adapt(change.reacted_at),
            change.reaction_message_id,
            change.webhook_event_id,
        )
        for change in changes
    ]
    with connection.cursor() as cursor:
        cursor.executemany(_UPSERT_REACTION, rows)


def _status_errors(status: StatusUpdate) -> list[dict[str, Any]]:
    return [
        {"code": e.code, "title": e.title, "message": e.message, "details": e.details}
        for e in status.errors
    ]


def _store_statuses(statuses: list[StatusUpdate]) -> None:
    """The status history, one row per message and status (re-deliveries are ignored).

    One INSERT per batch whose rows travel as a single JSON parameter: Django's bulk_create
    quoted every value of every row in Python, two thirds of the worker's CPU per status.
    """
    if not statuses:
        return
    received_at = _db_datetime(clock.now())
    rows = [
        {
            "provider_message_id": status.message_id,
            "status": status.status,
            "recipient_wa_id": status.recipient_wa_id,
            "occurred_at": _db_datetime(status.timestamp),
            "received_at": received_at,
            "errors": _status_errors(status),
            "pricing": status.pricing,
        }
        for status in statuses
    ]
    sql = (
        _INSERT_STATUS_EVENTS_POSTGRES
        if connection.vendor == "postgresql"
        else _INSERT_STATUS_EVENTS
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            cursor.execute(sql, [orjson.dumps(rows[start : start + 1000]).decode()])


def _db_datetime(value: datetime) -> str:
    """A datetime as the database stores it, for rows sent as JSON."""
    adapted = connection.ops.adapt_datetimefield_value(value)
    return adapted.isoformat() if isinstance(adapted, datetime) else str(adapted)


_STATUS_EVENT_COLUMNS = (
    "provider_message_id, status, recipient_wa_id, occurred_at, received_at, errors, pricing"
)
# The table name is our model's; the rows are one parameter.
_INSERT_STATUS_EVENTS_POSTGRES = (
    f"INSERT INTO {MessageStatusEvent._meta.db_table} ({_STATUS_EVENT_COLUMNS})"  # noqa: S608
    f" SELECT {_STATUS_EVENT_COLUMNS} FROM jsonb_to_recordset(%s::jsonb) AS row("
    "provider_message_id varchar, status varchar, recipient_wa_id varchar,"
    " occurred_at timestamptz, received_at timestamptz, errors jsonb, pricing jsonb)"
    " ON CONFLICT (provider_message_id, status) DO NOTHING"
)
_INSERT_STATUS_EVENTS = (
    f"INSERT INTO {MessageStatusEvent._meta.db_table} ({_STATUS_EVENT_COLUMNS})"  # noqa: S608
    " SELECT json_extract(value, '$.provider_message_id'), json_extract(value, '$.status'),"
    " json_extract(value, '$.recipient_wa_id'), json_extract(value, '$.occurred_at'),"
    " json_extract(value, '$.received_at'), json(json_extract(value, '$.errors')),"
    " json(json_extract(value, '$.pricing'))"
    # SQLite needs the WHERE to tell the upsert clause from a join.
    " FROM json_each(%s) WHERE true"
    " ON CONFLICT (provider_message_id, status) DO NOTHING"
)


def _apply_statuses(statuses: list[StatusUpdate]) -> None:
    """Move outbound messages to the furthest status reported for them, never backwards.

    Runs after the status rows are committed, while the dispatcher stores a message's id
    and then reads its early statuses: whichever side comes second sees the other's write.
    A status for a message whose Meta id is not stored yet (its send's answer was lost, or
    its dispatcher has not written it) names the row by our callback data: the row gets the
    id from the status (``_reconcile_unconfirmed``), then the status.
    """
    if not statuses:
        return
    callbacks = {
        status.message_id: status.biz_opaque_callback_data
        for status in statuses
        if status.biz_opaque_callback_data
    }
    best, errors = _furthest_statuses(
        (status.message_id, status.status, _status_errors(status)) for status in statuses
    )

    def apply() -> None:
        moved = _apply_best_statuses(best, errors)
        # Most statuses find their row by its id; only the others need the callback data.
        reconciled = _reconcile_unconfirmed(
            {
                provider_id: data
                for provider_id, data in callbacks.items()
                if provider_id not in moved
            }
        )
        if reconciled:
            _apply_best_statuses(
                {
                    provider_id: best[provider_id]
                    for provider_id in reconciled
                    if provider_id in best
                },
                errors,
            )

    _again_after_deadlock(apply, "webhook.apply_statuses")


def _again_after_deadlock(write: Callable[[], object], name: str) -> None:
    """Run ``write``, again if it lost a deadlock (at most ``APPLY_ATTEMPTS`` times).

    Appliers of statuses and dispatchers storing outcomes update overlapping message rows
    in different orders; PostgreSQL breaks such a deadlock by failing one of them. Their
    writes only move rows forward or write the same values again, so running one again is
    safe; failing instead left a dispatcher's accepted sends as "sending" until the sweeper
    reconciled them minutes later."""
    for attempt in range(1, APPLY_ATTEMPTS + 1):
        try:
            write()
            return
        except OperationalError as error:
            if attempt == APPLY_ATTEMPTS:
                raise
            logger.warning("%s_retry attempt=%d error=%s", name, attempt, type(error).__name__)
            time.sleep(0.05 * attempt)


def _furthest_statuses(
    reports: Iterable[tuple[str, str, list[dict[str, Any]]]],
) -> tuple[dict[str, str], dict[str, list[dict[str, Any]]]]:
    """From (provider id, status, errors) reports: the furthest status per message and the
    errors reported for it."""
    best: dict[str, str] = {}
    errors: dict[str, list[dict[str, Any]]] = {}
    for provider_id, status, status_errors in reports:
        if status not in STATUS_RANK:
            continue
        current = best.get(provider_id)
        if current is None or STATUS_RANK[status] > STATUS_RANK[current]:
            best[provider_id] = status
        if status_errors:
            errors.setdefault(provider_id, []).extend(status_errors)
    return best, errors


def _apply_best_statuses(best: dict[str, str], errors: dict[str, list[dict[str, Any]]]) -> set[str]:
    """One conditional UPDATE per target status: concurrent appliers can only move forward.
    Returns the provider ids of the rows that moved."""
    now = clock.now()
    by_status: dict[str, list[str]] = {}
    for provider_id, status in best.items():
        by_status.setdefault(status, []).append(provider_id)
    moved: set[str] = set()
    # No surrounding transaction: each UPDATE is complete on its own (it only moves rows
    # forward), and holding the locks of one while waiting for another's is what deadlocks.
    for status, provider_ids in by_status.items():
        lower = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]
        if status != Message.Status.FAILED:
            moved.update(_move_statuses(sorted(provider_ids), status, lower, now))
            continue
        targets = Message.objects.filter(
            provider_id__in=sorted(provider_ids),
            direction=Message.Direction.OUTBOUND,
            status__in=lower,
        )
        for provider_id in provider_ids:
            first = (errors.get(provider_id) or [{}])[0]
            if targets.filter(provider_id=provider_id).update(
                status=status,
                status_updated_at=now,
                error_code=first.get("code"),
                error_title=str(first.get("title", ""))[:255],
            ):
                moved.add(provider_id)
    return moved


def _move_statuses(
    provider_ids: list[str], status: str, lower: list[str], now: datetime
) -> list[str]:
    """Outbound rows with these ids and a status in ``lower`` move to ``status``; returns
    the ids of the rows that moved. The ids travel as one parameter (see _list_parameter)."""
    sql = _MOVE_STATUSES_POSTGRES if connection.vendor == "postgresql" else _MOVE_STATUSES
    lower_list = ", ".join(["%s"] * len(lower))
    with connection.cursor() as cursor:
        cursor.execute(
            sql.format(lower=lower_list),
            [
                status,
                _db_datetime(now),
                _list_parameter(provider_ids),
                *lower,
            ],
        )
        return [provider_id for (provider_id,) in cursor.fetchall()]


def _reconcile_unconfirmed(callbacks: dict[str, str]) -> list[str]:
    """A status naming our callback data proves that a send whose answer we have not
    stored (unconfirmed, or still "sending" because its worker died or is still busy with
    the batch) reached Meta: store the id Meta gave it, so it is never sent again. One
    UPDATE stores them all; returns the provider ids it stored.

    An id already on another row belongs to a copy that was sent again; the row is left
    alone (and on the row itself: its dispatcher stored it a moment ago)."""
    rows = []
    for provider_id, data in callbacks.items():
        message_pk = message_pk_from_callback(data)
        if message_pk is not None:
            rows.append({"pk": message_pk, "provider_id": provider_id})
    if not rows:
        return []
    sql = _RECONCILE_POSTGRES if connection.vendor == "postgresql" else _RECONCILE
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                Message.Status.ACCEPTED.value,
                Message.Status.SENDING.value,
                _db_datetime(clock.now()),
                *_rows_parameters(rows, ("pk", "provider_id")),
                Message.Status.UNCONFIRMED.value,
                Message.Status.SENDING.value,
            ],
        )
        reconciled = [provider_id for (provider_id,) in cursor.fetchall()]
    if reconciled:
        logger.info("whatsapp.sends_reconciled count=%d", len(reconciled))
    return reconciled


CALLBACK_PREFIX = "townhall:"


def callback_data_for(message_pk: int) -> str:
    """What we send as ``biz_opaque_callback_data``: Meta returns it on every status."""
    return f"{CALLBACK_PREFIX}{message_pk}"


def message_pk_from_callback(data: str) -> int | None:
    if not data.startswith(CALLBACK_PREFIX):
        return None
    digits = data[len(CALLBACK_PREFIX) :]
    return int(digits) if digits.isdigit() else None


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
                "display_phone_number": whatsapp_setting("DISPLAY_PHONE_NUMBER"),
                "phone_number_id": whatsapp_setting("PHONE_NUMBER_ID"),
            },
            "contacts": [{"profile": {"name": stored.profile_name}, "wa_id": stored.wa_id}],
            "messages": [raw_message],
        },
        waba_id=whatsapp_setting("BUSINESS_ACCOUNT_ID"),
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
    priority: int = Message.Priority.REPLY,
    acting_user: Any = None,
) -> Message:
    """Store an outbound message as queued; a dispatcher sends it after commit.

    Raises ``SendRefused`` (nothing stored) when the citizen has not consented to
    ``purpose``. The row is the durable record: a lost task is recovered by the sweeper.
    """
    wa_id = _checked_wa_id(wa_id)
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
            priority=priority,
        )
        if priority == Message.Priority.REPLY:
            # Someone waits for it: its own task, ahead of the dispatch loops in the queue
            # (they give their thread back every DISPATCH_SLICE_SECONDS).
            _enqueue_on_commit("send_message", stored.pk)
        else:
            _enqueue_on_commit("dispatch_messages")
    logger.info(
        "whatsapp.queued message=%s type=%s to=%s user=%s",
        stored.pk,
        message.type,
        redact(wa_id),
        getattr(acting_user, "pk", None),
    )
    return stored


@dataclass(frozen=True, slots=True)
class QueuedBatch:
    queued: int
    # Recipients without consent for the purpose, by reason; nothing was stored for them.
    refused: dict[str, int]


def do_queue_messages(
    wa_ids: Iterable[str],
    message: outbound.OutboundMessage,
    *,
    purpose: Purpose,
    topic: str = "",
    priority: int = Message.Priority.BULK,
    acting_user: Any = None,
) -> QueuedBatch:
    """Store one message for many recipients (a broadcast) and start the dispatchers.

    Consent is checked for all recipients at once and again by the dispatcher right before
    sending; rows are inserted in bulk, so memory and round trips do not grow per recipient.
    """
    recipients = list(dict.fromkeys(_checked_wa_id(wa_id) for wa_id in wa_ids))
    payload, text = message.to_payload(), message.summary()
    queued = 0
    refused: dict[str, int] = {}
    for start in range(0, len(recipients), QUEUE_CHUNK):
        chunk = recipients[start : start + QUEUE_CHUNK]
        reasons = refusals(chunk, purpose, topic)
        for reason in reasons.values():
            refused[reason] = refused.get(reason, 0) + 1
        allowed = [wa_id for wa_id in chunk if wa_id not in reasons]
        _insert_queued(
            allowed,
            {
                "type": message.type,
                "text": text,
                "payload": orjson.dumps(payload).decode(),
                "purpose": purpose,
                "topic": topic,
                "priority": priority,
            },
        )
        queued += len(allowed)
        if start == 0 and len(recipients) > QUEUE_CHUNK:
            do_refresh_message_statistics()
            # The dispatchers send the first chunk while the rest is queued (20,000 rows
            # take about 2 s to check and store); started again below in case they ran
            # out of work before the next chunk was stored.
            transaction.on_commit(_start_dispatchers)
    if len(recipients) > QUEUE_CHUNK:
        do_refresh_message_statistics()
    transaction.on_commit(_start_dispatchers)
    logger.info(
        "whatsapp.queued_batch count=%d refused=%d type=%s priority=%s user=%s",
        queued,
        sum(refused.values()),
        message.type,
        priority,
        getattr(acting_user, "pk", None),
    )
    return QueuedBatch(queued=queued, refused=refused)


def _insert_queued(wa_ids: list[str], values: dict[str, Any]) -> None:
    """One queued outbound row per recipient, all alike but the number, with one statement
    whose only list is the numbers (``bulk_create`` prepared and quoted all 20 fields of
    every row in Python: 240 ms per 2,000 rows, the longest part of queueing a broadcast)."""
    if not wa_ids:
        return
    now = _db_datetime(clock.now())
    defaults: dict[str, Any] = {
        "provider_id": None,
        "direction": Message.Direction.OUTBOUND.value,
        "profile_name": "",
        "context_provider_id": "",
        "status": Message.Status.QUEUED.value,
        "error_code": None,
        "error_title": "",
        "attempts": 0,
        "next_attempt_at": None,
        "expires_at": None,
        "handled_at": None,
        "created_at": now,
        "status_updated_at": now,
        **values,
    }
    # Every column of the model, so a new one without a value here fails at once.
    columns = [
        str(field.column) for field in Message._meta.concrete_fields if not field.primary_key
    ]
    postgres = connection.vendor == "postgresql"
    placeholders = {"wa_id": "recipient.value", "payload": "%s::jsonb" if postgres else "json(%s)"}
    selected = [placeholders.get(column, "%s") for column in columns]
    source = (
        "unnest(%s::varchar[]) AS recipient(value)" if postgres else "json_each(%s) AS recipient"
    )
    sql = (
        f"INSERT INTO {_MESSAGE_TABLE} ({', '.join(columns)})"  # noqa: S608
        f" SELECT {', '.join(selected)} FROM {source}"
    )
    parameters = [defaults[column] for column in columns if column != "wa_id"]
    parameters.append(_list_parameter(wa_ids))
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)


def do_refresh_message_statistics() -> None:
    """PostgreSQL: refresh the planner's statistics of the messages after thousands were
    queued at once. Until autovacuum catches up (up to a minute) the planner believes
    there is no queued row and claims by sorting all of them, ~2 ms per queued row."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {_MESSAGE_TABLE}")


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """One recipient's own message of a fan-out (each may differ in language and type)."""

    wa_id: str
    message: outbound.OutboundMessage
    topic: str = ""
    # Not sent before this instant (e.g. the part of a broadcast over Meta's messaging limit).
    not_before: datetime | None = None


def do_queue_prepared_messages(
    prepared: Sequence[PreparedMessage],
    *,
    purpose: Purpose,
    priority: int = Message.Priority.BULK,
    expires_at: datetime | None = None,
    start_dispatchers: bool = True,
) -> list[int | None]:
    """Store per-recipient messages in bulk; returns the new row ids in input order (None
    for a recipient the consent policy refuses; nothing is stored for them).

    For fan-outs that record their own rows beside the messages: the caller's transaction
    (if any) covers both, and the dispatchers start after it commits. Consent is asked once
    per topic in the batch here and again by the dispatcher right before sending.
    At most ``QUEUE_CHUNK`` recipients per call: one bulk insert. A fan-out calling this
    chunk after chunk may start the dispatchers only now and then (``start_dispatchers``):
    running dispatchers keep going while work is queued.
    """
    if len(prepared) > QUEUE_CHUNK:
        raise ValueError(f"at most {QUEUE_CHUNK} messages per call")
    by_topic: dict[str, list[str]] = {}
    for item in prepared:
        by_topic.setdefault(item.topic, []).append(_checked_wa_id(item.wa_id))
    refused = {
        (topic, wa_id)
        for topic, wa_ids in by_topic.items()
        for wa_id in refusals(wa_ids, purpose, topic)
    }
    # Payload and summary once per distinct message, not per recipient.
    rendered: dict[int, tuple[dict[str, Any], str]] = {}
    rows: list[Message] = []
    positions: list[int] = []
    for position, item in enumerate(prepared):
        if (item.topic, item.wa_id.lstrip("+")) in refused:
            continue
        key = id(item.message)
        if key not in rendered:
            rendered[key] = (item.message.to_payload(), item.message.summary())
        payload, text = rendered[key]
        rows.append(
            Message(
                direction=Message.Direction.OUTBOUND,
                wa_id=item.wa_id.lstrip("+"),
                type=item.message.type,
                text=text,
                payload=payload,
                status=Message.Status.QUEUED,
                purpose=purpose,
                topic=item.topic,
                priority=priority,
                expires_at=expires_at,
                next_attempt_at=item.not_before,
            )
        )
        positions.append(position)
    with transaction.atomic():
        created = Message.objects.bulk_create(rows, batch_size=QUEUE_CHUNK)
        if start_dispatchers:
            transaction.on_commit(_start_dispatchers)
    ids: list[int | None] = [None] * len(prepared)
    for position, row in zip(positions, created, strict=True):
        ids[position] = row.pk
    logger.info(
        "whatsapp.queued_prepared count=%d refused=%d priority=%s",
        len(rows),
        len(prepared) - len(rows),
        priority,
    )
    return ids


def do_hold_messages(message_ids: QuerySet[Any] | Iterable[int]) -> int:
    """Hold queued (unclaimed) messages back: the dispatcher skips them until released."""
    return Message.objects.filter(
        pk__in=message_ids,  # type: ignore[misc]
        status=Message.Status.QUEUED,
    ).update(status=Message.Status.HELD, status_updated_at=clock.now())


def do_release_held_messages(message_ids: QuerySet[Any] | Iterable[int]) -> int:
    """Queue held messages again and start the dispatchers after commit."""
    released = Message.objects.filter(
        pk__in=message_ids,  # type: ignore[misc]
        status=Message.Status.HELD,
    ).update(status=Message.Status.QUEUED, status_updated_at=clock.now())
    if released:
        transaction.on_commit(_start_dispatchers)
    return released


def do_cancel_unsent_messages(message_ids: QuerySet[Any] | Iterable[int], reason: str) -> int:
    """Cancel messages that have not been claimed yet (queued or held); ``reason`` is shown."""
    return Message.objects.filter(
        pk__in=message_ids, status__in=[Message.Status.QUEUED, Message.Status.HELD]
    ).update(
        status=Message.Status.CANCELLED,
        error_title=f"Not sent: {reason}"[:255],
        status_updated_at=clock.now(),
    )


def _checked_wa_id(wa_id: str) -> str:
    wa_id = wa_id.lstrip("+")
    if not wa_id.isdigit():
        raise outbound.InvalidOutboundMessage("A WhatsApp id has digits only")
    return wa_id


def _dispatcher_count() -> int:
    """One dispatcher per Huey worker thread: they share the claims and the rate."""
    consumer: dict[str, Any] = dict(settings.HUEY.get("consumer") or {})  # type: ignore[call-overload]
    return max(1, int(consumer.get("workers", 1)))


def _start_dispatchers() -> None:
    for _ in range(_dispatcher_count()):
        _enqueue("dispatch_messages")


@dataclass(frozen=True, slots=True)
class DispatchReport:
    claimed: int = 0
    accepted: int = 0


def do_dispatch(seconds: float | None = None) -> bool:
    """Send due messages, batch after batch, for about ``seconds``; True if work is left.

    Workers may run this side by side: claims never overlap, the send slots are shared.
    Without ``seconds`` a slice lasts 0.5-1.5 × DISPATCH_SLICE_SECONDS, at random: slices of
    equal length, started together by a broadcast, stayed in step, so every dispatcher gave
    its thread back at the same moment, waited behind the webhook tasks queued meanwhile,
    and nobody booked send slots for up to 160 ms (at 1,000/s: 20 such gaps per 20,000).
    """
    if seconds is None:
        seconds = DISPATCH_SLICE_SECONDS * random.uniform(0.5, 1.5)  # noqa: S311 - spread, not security
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if do_dispatch_batch().claimed == 0:
            return False
    return True


def do_send_queued_message(message_id: int) -> float | None:
    """Send one queued message now, if it is due; returns its retry delay, if any."""
    report = do_dispatch_batch(message_ids=[message_id])
    if report.claimed:
        # Hand over to the citizen's next message in line, if there is one.
        _enqueue_on_commit("dispatch_messages")
    due = (
        Message.objects.filter(pk=message_id, status=Message.Status.QUEUED)
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    return max(0.0, (due - clock.now()).total_seconds()) if due else None


def do_dispatch_batch(
    *, limit: int | None = None, message_ids: list[int] | None = None
) -> DispatchReport:
    """Claim due messages (priority order, per-citizen order kept), check consent and the
    pair limit for all of them at once, send them with many requests in flight, each at
    the send slot the shared limiter booked for it, and record the outcomes in bulk.

    One claim, one consent check and one bulk update serve a claim's worth of sending
    (about half a second of the number's messages, shared by the dispatchers)."""
    limiter = get_limiter()
    claimed = _claim_due_messages(limit or _claim_size(), message_ids)
    if not claimed:
        return DispatchReport()
    try:
        sendable = _drop_refused(_drop_expired(claimed))
        sendable = _hold_back_pair_limited(sendable, limiter)
    except (DatabaseError, redis.RedisError):
        # Nothing of the batch has left us: back to the queue for the task's retry, not
        # "sending" until the sweeper gives up on them minutes later.
        _release_claims([row["pk"] for row in claimed])
        raise
    if not sendable:
        return DispatchReport(claimed=len(claimed))
    requests = [
        SendRequest(
            to=row["wa_id"],
            type_payload=row["payload"],
            reply_to=row["context_provider_id"],
            callback_data=callback_data_for(row["pk"]),
        )
        for row in sendable
    ]
    try:
        outcomes = _send_paced(requests, limiter)
    except _SendingInterrupted as interruption:
        # The limiter failed part-way (Redis restarting): what has left is recorded, so it
        # is never sent again; the rest goes back to the queue for the task's retry.
        sent_rows: list[dict[str, Any]] = []
        sent_outcomes: list[SendResult | CloudAPIError] = []
        unsent_pks: list[int] = []
        for row, outcome in zip(sendable, interruption.outcomes, strict=True):
            if outcome is None:
                unsent_pks.append(row["pk"])
            else:
                sent_rows.append(row)
                sent_outcomes.append(outcome)
        if sent_rows:
            _record_outcomes(sent_rows, sent_outcomes)
        _release_claims(unsent_pks)
        raise interruption.cause from None
    accepted = _record_outcomes(sendable, outcomes)
    return DispatchReport(claimed=len(claimed), accepted=accepted)


class _SendingInterrupted(Exception):
    """The shared limiter failed while a batch was being sent: the outcomes so far (None
    for requests that have not left) and the limiter's error."""

    def __init__(self, outcomes: list[SendResult | CloudAPIError | None], cause: Exception):
        super().__init__(str(cause))
        self.outcomes, self.cause = outcomes, cause


def _claim_size() -> int:
    """About half a second of the number's messages, split between the dispatchers."""
    config = settings.WHATSAPP
    share = float(whatsapp_setting("SEND_RATE_PER_SECOND")) * CLAIM_SECONDS / _dispatcher_count()
    return max(1, min(int(config["SEND_BATCH_SIZE"]), int(share)))


def _send_paced(
    requests: list[SendRequest], limiter: RateLimiter
) -> list[SendResult | CloudAPIError]:
    """Send ``requests``, each at the slot the limiter booked for it. One that could not
    leave in time for its slot (``SlotMissed``) gets a new slot, at most
    ``SLOT_REBOOKINGS`` times; after that it leaves late rather than never.

    A 130429 answer (Meta counted more than the tier in a rolling second) pauses the
    number's schedule for every dispatcher; the refused requests never reached anyone and
    go first in line again after the pause, which doubles with each further 130429 of the
    batch (``THROUGHPUT_REBOOKINGS`` times, then they take the retry path). A short first
    pause is enough: our own sends never fill a rolling second (RATE_SHARE), so a 130429 means
    requests that reached Meta bunched, or inbound messages that count as well; waiting a
    whole second, and the retry delay of seconds after it, cost an alert up to 5 % of its
    pace per 130429."""
    client = get_client()
    outcomes: list[SendResult | CloudAPIError | None] = [None] * len(requests)
    waiting = list(range(len(requests)))
    backoff = float(settings.WHATSAPP["THROUGHPUT_BACKOFF_SECONDS"])
    try:
        _send_waiting(requests, waiting, outcomes, limiter, client, backoff)
    except redis.RedisError as error:
        raise _SendingInterrupted(outcomes, error) from error
    # Every request has its outcome by now (the loop runs until none is waiting).
    return cast(list[SendResult | CloudAPIError], outcomes)


def _send_waiting(
    requests: list[SendRequest],
    waiting: list[int],
    outcomes: list[SendResult | CloudAPIError | None],
    limiter: RateLimiter,
    client: CloudAPIClient,
    backoff: float,
) -> None:
    """_send_paced's loop: fills ``outcomes`` as the requests of ``waiting`` leave."""
    rebookings = 0
    throughput_rebookings = 0
    while waiting:
        grant = limiter.take(len(waiting))
        if grant.granted == 0:
            time.sleep(grant.retry_after)
            continue
        part, waiting = waiting[: grant.granted], waiting[grant.granted :]
        results: list[SendResult | CloudAPIError]
        if len(requests) == 1:
            # One message (a chat reply) goes on the calling thread: no hop to the I/O loop.
            time.sleep(max(0.0, grant.delay))
            try:
                results = [client.send_raw(**_as_kwargs(requests[0]))]
            except CloudAPIError as error:
                results = [error]
        else:
            results = client.send_many(
                [requests[index] for index in part],
                first_at=time.monotonic() + grant.delay,
                spacing=grant.spacing,
                late_limit=LATE_SLOT_SECONDS if rebookings < SLOT_REBOOKINGS else None,
            )
        missed, throttled = [], []
        refused = 0
        for index, result in zip(part, results, strict=True):
            if isinstance(result, ThroughputLimited):
                refused += 1
            if isinstance(result, SlotMissed):
                missed.append(index)
            elif (
                isinstance(result, ThroughputLimited)
                and throughput_rebookings < THROUGHPUT_REBOOKINGS
            ):
                throttled.append(index)
            else:
                outcomes[index] = result
        if missed:
            rebookings += 1
            logger.info("whatsapp.slots_missed count=%d", len(missed))
        if refused:
            # Every dispatcher of this number holds off, the rest of this batch included.
            limiter.pause(backoff)
            logger.warning(
                "whatsapp.throughput_limited count=%d rebooked=%d pause_s=%.2f",
                refused,
                len(throttled),
                backoff,
            )
            backoff *= 2
            if throttled:
                throughput_rebookings += 1
        # First in line again, in their order: a batch holds one message per citizen, so no
        # citizen's order changes.
        waiting = sorted(missed + throttled) + waiting


def _as_kwargs(request: SendRequest) -> dict[str, Any]:
    return {
        "to": request.to,
        "type_payload": request.type_payload,
        "reply_to": request.reply_to,
        "callback_data": request.callback_data,
    }


_CLAIM_FIELDS = (
    "pk",
    "wa_id",
    "payload",
    "purpose",
    "topic",
    "context_provider_id",
    "attempts",
    "expires_at",
)


# Waits between attempts to give claimed rows back after a database error (it may be
# restarting: a few seconds in all).
RELEASE_WAITS_SECONDS = (0.0, 0.25, 0.5, 1.0, 2.0)


def _release_claims(message_pks: list[int]) -> None:
    """Claimed rows that were not sent go back to queued (best effort: if the database
    stays away, the sweeper finds them as "sending" later)."""
    for wait in RELEASE_WAITS_SECONDS:
        time.sleep(wait)
        try:
            # A connection that failed stays broken until it is closed and opened again.
            if (
                connection.connection is not None
                and not connection.in_atomic_block
                and not connection.is_usable()
            ):
                connection.close()
            released = Message.objects.filter(
                pk__in=message_pks, status=Message.Status.SENDING
            ).update(status=Message.Status.QUEUED, status_updated_at=clock.now())
        except DatabaseError:
            continue
        logger.warning("whatsapp.claims_released count=%d", released)
        return
    logger.error("whatsapp.claims_not_released count=%d", len(message_pks))


def _claim_due_messages(count: int, message_ids: list[int] | None) -> list[dict[str, Any]]:
    """Move up to ``count`` due messages from queued to sending and return them.

    A message waits while an older one of the same or a more urgent priority to the same
    citizen is still on its way (younger than SEND_ORDER_WINDOW, so a stuck row cannot
    silence anyone). PostgreSQL: FOR UPDATE SKIP
    LOCKED lets dispatchers claim side by side; SQLite: the IMMEDIATE transaction is the lock.
    """
    now = clock.now()
    earlier_on_its_way = Message.objects.filter(
        wa_id=OuterRef("wa_id"),
        status__in=[Message.Status.QUEUED, Message.Status.SENDING, Message.Status.UNCONFIRMED],
        pk__lt=OuterRef("pk"),
        created_at__gte=OuterRef("created_at") - SEND_ORDER_WINDOW,
        # An urgent alert or a reply does not wait behind a normal post to the same person.
        priority__lte=OuterRef("priority"),
    )
    due = (
        # Only outbound rows are ever queued (here and above, no direction filter: with
        # it PostgreSQL once intersected the (direction, status) index for every candidate
        # and a claim took 30 s).
        Message.objects.filter(status=Message.Status.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .exclude(Exists(earlier_on_its_way))
    )
    if message_ids is not None:
        due = due.filter(pk__in=message_ids)
    with transaction.atomic():
        rows = list(
            due.order_by("priority", "pk")
            .select_for_update(skip_locked=True)
            .values(*_CLAIM_FIELDS)[:count]
        )
        if rows:
            Message.objects.filter(pk__in=[row["pk"] for row in rows]).update(
                status=Message.Status.SENDING, status_updated_at=now
            )
    return rows


# error_title of a message cancelled because its ``expires_at`` passed before it was sent.
EXPIRED_TITLE = "Not sent: expired before it could be handed over"


def _drop_expired(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A message past its ``expires_at`` is cancelled instead of sent (one UPDATE)."""
    now = clock.now()
    expired = [
        row["pk"] for row in rows if row["expires_at"] is not None and row["expires_at"] <= now
    ]
    if not expired:
        return rows
    Message.objects.filter(pk__in=expired).update(
        status=Message.Status.CANCELLED, error_title=EXPIRED_TITLE, status_updated_at=now
    )
    logger.info("whatsapp.send_expired count=%d", len(expired))
    dropped = set(expired)
    return [row for row in rows if row["pk"] not in dropped]


def _drop_refused(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consent again, right before sending (a STOP since queueing cancels): one query per
    purpose and topic in the batch."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["purpose"], row["topic"]), []).append(row)
    cancelled: dict[str, list[int]] = {}
    for (purpose, topic), group in groups.items():
        try:
            reasons = refusals([row["wa_id"] for row in group], Purpose(purpose), topic)
        except ValueError:
            reasons = {row["wa_id"]: f"unknown purpose {purpose!r}" for row in group}
        for row in group:
            if row["wa_id"] in reasons:
                cancelled.setdefault(reasons[row["wa_id"]], []).append(row["pk"])
    for reason, pks in cancelled.items():
        Message.objects.filter(pk__in=pks).update(
            status=Message.Status.CANCELLED,
            error_title=f"Not sent: {reason}"[:255],
            status_updated_at=clock.now(),
        )
        logger.info("whatsapp.send_cancelled count=%d reason=%s", len(pks), reason)
    dropped = {pk for pks in cancelled.values() for pk in pks}
    return [row for row in rows if row["pk"] not in dropped]


def _hold_back_pair_limited(
    rows: list[dict[str, Any]], limiter: RateLimiter
) -> list[dict[str, Any]]:
    """Meta's pair limit: a citizen's next message waits for its token instead of a 131056."""
    waits = limiter.take_pairs([row["wa_id"] for row in rows])
    now = clock.now()
    held = [(row, wait) for row, wait in zip(rows, waits, strict=True) if wait > 0]
    for row, wait in held:
        Message.objects.filter(pk=row["pk"]).update(
            status=Message.Status.QUEUED,
            next_attempt_at=now + timedelta(seconds=wait),
            status_updated_at=now,
        )
    if held:
        _enqueue_later("dispatch_messages", delay=min(wait for _, wait in held))
    return [row for row, wait in zip(rows, waits, strict=True) if wait == 0]


def _record_outcomes(rows: list[dict[str, Any]], outcomes: list[SendResult | CloudAPIError]) -> int:
    """Bulk-write what the API said; returns the number accepted.

    A 130429 has already paused every dispatcher (``_send_paced``); here it is only retried."""
    now = clock.now()
    max_attempts = settings.WHATSAPP["SEND_MAX_ATTEMPTS"]
    accepted: list[dict[str, Any]] = []
    changed: list[Message] = []
    errors_by_class: dict[str, int] = {}
    retries: list[float] = []
    for row, outcome in zip(rows, outcomes, strict=True):
        attempts = row["attempts"] + 1
        if isinstance(outcome, SendResult):
            accepted.append(
                {"pk": row["pk"], "provider_id": outcome.message_id, "attempts": attempts}
            )
            continue
        errors_by_class[type(outcome).__name__] = errors_by_class.get(type(outcome).__name__, 0) + 1
        message = Message(
            pk=row["pk"],
            attempts=attempts,
            status_updated_at=now,
            error_code=outcome.code,
            error_title=f"{type(outcome).__name__}: {outcome.message}"[:255],
            next_attempt_at=None,
        )
        if isinstance(outcome, OutcomeUnknown):
            # Maybe delivered: wait for a status webhook naming it (see the sweeper).
            message.status = Message.Status.UNCONFIRMED
        elif outcome.is_retryable and attempts < max_attempts:
            retry_in = retry_delay(attempts)
            message.status = Message.Status.QUEUED
            message.next_attempt_at = now + timedelta(seconds=retry_in)
            retries.append(retry_in)
        else:
            message.status = Message.Status.FAILED
        changed.append(message)
    outcome_fields = [
        "status",
        "attempts",
        "status_updated_at",
        "error_code",
        "error_title",
        "next_attempt_at",
    ]

    def store() -> None:
        with transaction.atomic():
            if accepted:
                _store_accepted(accepted, now)
            if changed:
                Message.objects.bulk_update(changed, outcome_fields)

    _again_after_deadlock(store, "whatsapp.store_outcomes")
    # Status webhooks can overtake the write above; apply the ones that already arrived.
    if accepted:
        early = _stored_statuses([row["provider_id"] for row in accepted])
        if early:
            best, errors = _furthest_statuses(early)
            _again_after_deadlock(
                lambda: _apply_best_statuses(best, errors), "whatsapp.early_statuses"
            )
    # A dispatcher when the first retry is due and one when the last is: the retries are
    # spread by jitter, and the first dispatcher finds the others not yet due (they waited
    # for the sweeper, two minutes, before).
    for delay in sorted({min(retries), max(retries)} if retries else set()):
        _enqueue_later("dispatch_messages", delay=delay)
    if errors_by_class:
        logger.warning(
            "whatsapp.send_failed batch=%d accepted=%d errors=%s",
            len(rows),
            len(accepted),
            errors_by_class,
        )
    else:
        logger.info("whatsapp.sent batch=%d", len(rows))
    return len(accepted)


def _stored_statuses(provider_ids: list[str]) -> list[tuple[str, str, Any]]:
    """(provider id, status, errors) of the stored statuses of these messages, any order.

    On PostgreSQL one index lookup per id, spelled out: the status table grows by
    thousands of rows a second during a broadcast, faster than its statistics, and with an
    IN list (or a join) the planner took it for small and read all of it for every batch
    (5 ms instead of 0.6 for 25 ids at 15,000 rows). ``OFFSET 0`` keeps the lateral
    subquery from being merged into a join the planner would choose again."""
    if connection.vendor != "postgresql":
        return list(
            MessageStatusEvent.objects.filter(provider_message_id__in=provider_ids)
            .order_by()
            .values_list("provider_message_id", "status", "errors")
        )
    with connection.cursor() as cursor:
        cursor.execute(_STORED_STATUSES_POSTGRES, [provider_ids])
        # Django reads jsonb as text (its JSONField decodes it): so do we.
        return [
            (provider_id, status, orjson.loads(errors) if isinstance(errors, str) else errors)
            for provider_id, status, errors in cursor.fetchall()
        ]


_STORED_STATUSES_POSTGRES = (
    "SELECT event.provider_message_id, event.status, event.errors"  # noqa: S608
    " FROM unnest(%s::varchar[]) AS wanted(provider_id) CROSS JOIN LATERAL"
    " (SELECT provider_message_id, status, errors"
    f" FROM {MessageStatusEvent._meta.db_table}"
    " WHERE provider_message_id = wanted.provider_id OFFSET 0) AS event"
)


def _store_accepted(rows: list[dict[str, Any]], now: datetime) -> None:
    """Meta's ids of a batch's accepted messages in one UPDATE whose rows travel as a few
    parameters (``bulk_update``'s CASE per row and field was a quarter of the worker's CPU)."""
    sql = _STORE_ACCEPTED_POSTGRES if connection.vendor == "postgresql" else _STORE_ACCEPTED
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            cursor.execute(
                sql,
                [
                    Message.Status.ACCEPTED.value,
                    _db_datetime(now),
                    *_rows_parameters(
                        rows[start : start + 1000], ("pk", "provider_id", "attempts")
                    ),
                ],
            )


def _rows_parameters(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[Any]:
    """Rows for one statement: on PostgreSQL one array per column, read with ``unnest``,
    whose length the planner sees (``jsonb_to_recordset`` counts as 100 rows, and for a
    batch of 25 the planner then preferred a scan of the whole table to the index); on
    SQLite one JSON array of objects, read with ``json_each``."""
    if connection.vendor == "postgresql":
        return [[row[column] for row in rows] for column in columns]
    return [_list_parameter(rows)]


def _list_parameter(values: list[Any]) -> Any:
    """A list as one parameter: an array on PostgreSQL (``unnest``, ``= ANY``), a JSON
    array on SQLite (``json_each``)."""
    if connection.vendor == "postgresql":
        return values
    return orjson.dumps(values).decode()


_MESSAGE_TABLE = Message._meta.db_table
# The table name is our model's; the values are parameters.
_STORE_ACCEPTED_POSTGRES = (
    f"UPDATE {_MESSAGE_TABLE} AS message SET provider_id = row.provider_id,"  # noqa: S608
    " status = %s, attempts = row.attempts, status_updated_at = %s, error_code = NULL,"
    " error_title = '', next_attempt_at = NULL"
    " FROM unnest(%s::bigint[], %s::varchar[], %s::integer[]) AS row(pk, provider_id, attempts)"
    # A row with an id got it from a status that came first (_RECONCILE_POSTGRES) and may
    # have moved on: writing it again would move it back.
    " WHERE message.id = row.pk AND message.provider_id IS NULL"
)
_STORE_ACCEPTED = (
    f"UPDATE {_MESSAGE_TABLE} SET provider_id = json_extract(row.value, '$.provider_id'),"  # noqa: S608
    " status = %s, attempts = json_extract(row.value, '$.attempts'), status_updated_at = %s,"
    " error_code = NULL, error_title = '', next_attempt_at = NULL"
    f" FROM json_each(%s) AS row WHERE {_MESSAGE_TABLE}.id = json_extract(row.value, '$.pk')"
    f" AND {_MESSAGE_TABLE}.provider_id IS NULL"
)


# Statuses move rows by their Meta id. The table name is our model's; ``{lower}`` is a list
# of placeholders; every value is a parameter.
_MOVE_STATUSES_POSTGRES = (
    f"UPDATE {_MESSAGE_TABLE} SET status = %s, status_updated_at = %s"  # noqa: S608
    " WHERE provider_id = ANY(%s)"
    " AND direction = 'out' AND status IN ({lower}) RETURNING provider_id"
)
_MOVE_STATUSES = (
    f"UPDATE {_MESSAGE_TABLE} SET status = %s, status_updated_at = %s"  # noqa: S608
    " WHERE provider_id IN (SELECT value FROM json_each(%s))"
    " AND direction = 'out' AND status IN ({lower}) RETURNING provider_id"
)
# A sending row's attempt is counted here when the status comes before its dispatcher's
# answer (the dispatcher then leaves the row alone, see _STORE_ACCEPTED_POSTGRES).
_RECONCILE_POSTGRES = (
    f"UPDATE {_MESSAGE_TABLE} AS message SET provider_id = row.provider_id,"  # noqa: S608
    " status = %s,"
    " attempts = CASE WHEN message.status = %s THEN message.attempts + 1"
    " ELSE message.attempts END,"
    " status_updated_at = %s"
    " FROM unnest(%s::bigint[], %s::varchar[]) AS row(pk, provider_id)"
    " WHERE message.id = row.pk AND message.direction = 'out'"
    " AND message.status IN (%s, %s) AND message.provider_id IS NULL"
    f" AND NOT EXISTS (SELECT 1 FROM {_MESSAGE_TABLE} AS copy"
    " WHERE copy.provider_id = row.provider_id)"
    " RETURNING message.provider_id"
)
_RECONCILE = (
    f"UPDATE {_MESSAGE_TABLE} SET provider_id = json_extract(row.value, '$.provider_id'),"  # noqa: S608
    " status = %s,"
    " attempts = CASE WHEN status = %s THEN attempts + 1 ELSE attempts END,"
    " status_updated_at = %s"
    " FROM json_each(%s) AS row"
    f" WHERE {_MESSAGE_TABLE}.id = json_extract(row.value, '$.pk')"
    f" AND direction = 'out' AND status IN (%s, %s) AND {_MESSAGE_TABLE}.provider_id IS NULL"
    f" AND NOT EXISTS (SELECT 1 FROM {_MESSAGE_TABLE} AS copy"
    " WHERE copy.provider_id = json_extract(row.value, '$.provider_id'))"
    f" RETURNING {_MESSAGE_TABLE}.provider_id"
)


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
    """Recover work whose task was lost, and sends whose outcome is unknown.

    Exactly once: a send that got no answer (``unconfirmed``, or ``sending`` for longer than
    any API call may take, i.e. its worker died) is sent again only when no status webhook
    named it within ``SEND_RECONCILE_SECONDS``; Meta reports every message it accepted
    within seconds, with our callback data, and such a status reconciles the row instead.
    """
    now = now or clock.now()
    config = settings.WHATSAPP
    counts = {"events": 0, "inbound": 0, "sends": 0, "unconfirmed": 0, "resent": 0}
    counts["events"] = WebhookEvent.objects.filter(
        state=WebhookEvent.State.PENDING, received_at__lt=now - STALE_AFTER
    ).count()
    if counts["events"]:
        _enqueue("process_webhook_events")
    for message_id in Message.objects.filter(
        direction=Message.Direction.INBOUND,
        status=Message.Status.RECEIVED,
        handled_at__isnull=True,
        created_at__lt=now - STALE_AFTER,
    ).values_list("pk", flat=True)[:500]:
        _enqueue("handle_inbound_message", message_id)
        counts["inbound"] += 1
    sending_timeout = timedelta(seconds=3 * config["HTTP_TIMEOUT_SECONDS"])
    counts["unconfirmed"] = Message.objects.filter(
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.SENDING,
        status_updated_at__lt=now - sending_timeout,
    ).update(
        status=Message.Status.UNCONFIRMED,
        error_title="Outcome unknown: the worker stopped while sending",
        status_updated_at=now,
    )
    counts["resent"] = Message.objects.filter(
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.UNCONFIRMED,
        provider_id__isnull=True,
        status_updated_at__lt=now - timedelta(seconds=config["SEND_RECONCILE_SECONDS"]),
    ).update(status=Message.Status.QUEUED, next_attempt_at=None, status_updated_at=now)
    counts["sends"] = (
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND,
            status=Message.Status.QUEUED,
            status_updated_at__lt=now - STALE_AFTER,
        )
        # Messages waiting for a later time (a broadcast's part over the messaging limit)
        # are not lost work until they are due.
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .count()
    )
    if counts["sends"] or counts["resent"]:
        _start_dispatchers()
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


def do_purge_unprocessable_webhook_events(now: datetime | None = None) -> int:
    """Delete rejected and failed webhook bodies past their retention period
    (``settings.RETENTION["REJECTED_WEBHOOK_DAYS"]``): long enough to inspect, not forever."""
    now = now or clock.now()
    cutoff = now - timedelta(days=settings.RETENTION["REJECTED_WEBHOOK_DAYS"])
    deleted, _ = WebhookEvent.objects.filter(
        state__in=[WebhookEvent.State.REJECTED, WebhookEvent.State.FAILED],
        received_at__lt=cutoff,
    ).delete()
    return deleted


def do_empty_messages(messages: QuerySet[Message]) -> int:
    """Empty the text and payload of ``messages`` (retention), except outbound ones still on
    their way, whose payload is what gets sent. The rows stay for the statistics; one UPDATE.
    Returns the count."""
    return (
        messages.exclude(text="", payload={})
        .exclude(
            direction=Message.Direction.OUTBOUND,
            status__in=[Message.Status.QUEUED, Message.Status.HELD, Message.Status.SENDING],
        )
        .update(text="", payload={})
    )


def do_clear_message_texts(wa_ids: QuerySet[Any] | list[str], *, before: datetime) -> int:
    """Empty the messages of ``wa_ids`` older than ``before`` (see ``do_empty_messages``)."""
    return do_empty_messages(Message.objects.filter(wa_id__in=wa_ids, created_at__lt=before))


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
        # Reactions stay for the posts' reports, under the pseudonym.
        MessageReaction.objects.filter(wa_id=wa_id).update(wa_id=pseudonym)
        WebhookEvent.objects.filter(body__contains=wa_id).delete()
    return count


# Rows rewritten per UPDATE when a number changes; a citizen has at most a few thousand.
NUMBER_CHANGE_BATCH_SIZE = 500


def do_move_messages(old_wa_id: str, new_wa_id: str) -> int:
    """A citizen's number changed: their message log moves to ``new_wa_id`` and keeps no
    copy of ``old_wa_id`` in clear (WhatsApp's own number-change notice included).

    Messages (also queued ones, which then go to the new number), status events and the
    payloads that quote the number are rewritten; handled webhook bodies that mention the
    old number are deleted (pending ones still have to be processed). Caller holds the
    citizen's row lock. Returns the number of messages moved.
    """
    old_bytes, new_bytes = old_wa_id.encode(), new_wa_id.encode()
    with transaction.atomic():
        rows = list(
            Message.objects.select_for_update()
            .filter(wa_id=old_wa_id)
            .only("id", "type", "text", "payload", "wa_id")
        )
        for row in rows:
            row.wa_id = new_wa_id
            if row.type == "system":
                # "X changed from <old> to <new>": what it said is now the consent record.
                row.text = ""
                row.payload = {
                    "system": {"type": str(row.payload.get("system", {}).get("type", ""))}
                }
            else:
                row.text = row.text.replace(old_wa_id, new_wa_id)
                row.payload = orjson.loads(orjson.dumps(row.payload).replace(old_bytes, new_bytes))
        Message.objects.bulk_update(
            rows, ["wa_id", "text", "payload"], batch_size=NUMBER_CHANGE_BATCH_SIZE
        )
        MessageStatusEvent.objects.filter(recipient_wa_id=old_wa_id).update(
            recipient_wa_id=new_wa_id
        )
        MessageReaction.objects.filter(wa_id=old_wa_id).update(wa_id=new_wa_id)
        WebhookEvent.objects.filter(body__contains=old_wa_id).exclude(
            state=WebhookEvent.State.PENDING
        ).delete()
    return len(rows)


# --- helpers ------------------------------------------------------------------------------------


def _enqueue(task_name: str, *args: Any) -> None:
    from townhall.whatsapp import tasks  # tasks import this module

    try:
        getattr(tasks, task_name)(*args)
    except QUEUE_DOWN_ERRORS as error:
        _log_queue_down(task_name, error)


def _enqueue_later(task_name: str, *, delay: float) -> None:
    from townhall.whatsapp import tasks

    try:
        getattr(tasks, task_name).schedule(delay=delay)
    except QUEUE_DOWN_ERRORS as error:
        _log_queue_down(task_name, error)


def _log_queue_down(task_name: str, error: Exception) -> None:
    """The task queue (Redis) is unreachable. The work is a durable row already (a webhook
    event, a queued message), so nothing is lost: the request still succeeds, and the
    sweeper (``requeue_stale_work``) or the next poke once Redis is back picks it up."""
    logger.warning(
        "whatsapp.enqueue_failed task=%s error=%s (task queue unreachable; the sweeper "
        "recovers the work)",
        task_name,
        type(error).__name__,
    )


def _enqueue_on_commit(task_name: str, *args: Any) -> None:
    transaction.on_commit(lambda: _enqueue(task_name, *args))
