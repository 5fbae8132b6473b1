"""The simulated Cloud API: Meta's rules and the citizens' side, in memory, without HTTP.

One ``Simulator`` per process holds citizens, threads, media, templates and rate-limit state
behind one lock. The simulator is a stand-in for an external service, so it keeps no database
and must stay fast for benchmarks. Time is injectable (``clock``) so rules can be tested
without sleeping. Views translate HTTP to calls here; ``webhooks`` delivers what this module
schedules. Nothing here imports Townhall's own WhatsApp code: it is an independent
implementation of Meta's side, which keeps end-to-end tests meaningful.
"""

import base64
import copy
import dataclasses
import functools
import hashlib
import logging
import os
import random
import re
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from townhall.simulator import collector, errors, webhooks
from townhall.simulator.errors import GraphError
from townhall.simulator.message_templates import MessageTemplate, TemplateRegistry, load_templates
from townhall.simulator.personas import load_personas
from townhall.simulator.stats import Counters, LatencyRecorder
from townhall.simulator.template_review import parse_submission, review
from townhall.simulator.validation import (
    MEDIA_TYPES,
    MarkAsRead,
    OutboundSend,
    RenderedTemplate,
    validate_request,
)
from townhall.simulator.webhooks import Job, StatusJob, WebhookDispatcher, WebhookPayload

logger = logging.getLogger(__name__)

ENV_PREFIX = "SIMULATOR_"
WINDOW_ERROR_MODES = ("status", "sync")
API_VERSION_RE = re.compile(r"v\d+\.\d+")
WA_ID_RE = re.compile(r"\d{6,15}")
# Status order; a lower status arriving after a higher one is not emitted (Meta may skip
# straight to "read", and never goes back).
STATUS_RANK = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}
# Meta shows a typing indicator for up to 25 seconds or until the next message.
TYPING_INDICATOR_SECONDS = 25.0
REDELIVER_MAX_TIMES = 100
# Upload limits by MIME type, from Meta's "Supported media types" table.
MEDIA_LIMITS: dict[str, tuple[str, int]] = {
    "image/jpeg": ("image", 5 * 1024 * 1024),
    "image/png": ("image", 5 * 1024 * 1024),
    "image/webp": ("sticker", 500 * 1024),
    "audio/aac": ("audio", 16 * 1024 * 1024),
    "audio/amr": ("audio", 16 * 1024 * 1024),
    "audio/mpeg": ("audio", 16 * 1024 * 1024),
    "audio/mp4": ("audio", 16 * 1024 * 1024),
    "audio/ogg": ("audio", 16 * 1024 * 1024),
    "video/mp4": ("video", 16 * 1024 * 1024),
    "video/3gpp": ("video", 16 * 1024 * 1024),
    "text/plain": ("document", 100 * 1024 * 1024),
    "application/pdf": ("document", 100 * 1024 * 1024),
    "application/msword": ("document", 100 * 1024 * 1024),
    "application/vnd.ms-excel": ("document", 100 * 1024 * 1024),
    "application/vnd.ms-powerpoint": ("document", 100 * 1024 * 1024),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (
        "document",
        100 * 1024 * 1024,
    ),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (
        "document",
        100 * 1024 * 1024,
    ),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (
        "document",
        100 * 1024 * 1024,
    ),
}

Clock = Callable[[], float]


# --- configuration ------------------------------------------------------------------------------


def _parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _coerce(field_type: object, value: object) -> object:
    if field_type is bool:
        return _parse_bool(value)
    if field_type is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"not an integer: {value!r}")
        return int(value)  # type: ignore[call-overload]
    if field_type is float:
        if isinstance(value, bool):
            raise ValueError(f"not a number: {value!r}")
        return float(value)  # type: ignore[arg-type]
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(f"not a string: {value!r}")
    return str(value)


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything that shapes the simulator's behaviour.

    Each field is settable as ``SIMULATOR_<FIELD>`` in the environment, as ``--<field>`` on
    the command line and at runtime through ``POST /_sim/config``.
    """

    # Well-known demo credentials, the same as Townhall's embedded defaults; not secrets.
    access_token: str = "simulator-access-token"  # noqa: S105
    app_secret: str = "simulator-app-secret"  # noqa: S105
    phone_number_id: str = "100000000000001"
    display_phone_number: str = "4929321000000"
    waba_id: str = "200000000000001"
    business_name: str = "Stadt Musterstadt"
    webhook_url: str = "http://127.0.0.1:8000/webhooks/whatsapp/"
    # Meta's default throughput is 80 messages/s per number (1,000/s on the unlimited tier).
    throughput_per_second: int = 80
    # About one message per 6 s to the same user, with short bursts borrowing from later.
    pair_limit_burst: int = 10
    pair_limit_interval_seconds: float = 6.0
    sent_delay_seconds: float = 0.05
    delivered_delay_seconds: float = 0.3
    read_delay_seconds: float = 1.0
    auto_read: bool = True
    failure_rate: float = 0.0
    # "status": accept out-of-window free-form sends, then a failed status with 131047
    # (Meta's behaviour); "sync": refuse them at once with HTTP 400 / 131047.
    window_error_mode: str = "status"
    window_seconds: float = 86400.0
    webhook_max_attempts: int = 6
    webhook_retry_base_seconds: float = 1.0
    webhook_timeout_seconds: float = 10.0
    # Webhook POSTs in flight (one keep-alive connection each). Read once when the
    # dispatcher starts; changing it at runtime has no effect.
    webhook_senders: int = 64
    # For benchmarks on small machines: the fraction of accepted sends that get the
    # sent → delivered → read webhooks (the others stay "accepted"; failed statuses are
    # always sent), and how many due statuses may share one webhook (Meta's format allows a
    # list; Meta itself sends one per webhook).
    status_sample_rate: float = 1.0
    statuses_per_webhook: int = 1
    thread_max_messages: int = 500
    # Seconds from a template submission to Meta's decision (approval or rejection webhook).
    template_review_seconds: float = 3.0
    # Delivery to an offline phone waits this long unless the template sets its own
    # message_send_ttl_seconds (Meta's default for utility templates and free text: 30 days).
    default_ttl_seconds: float = 30 * 86400.0
    media_max_total_bytes: int = 256 * 1024 * 1024
    load_personas: bool = False

    def __post_init__(self) -> None:
        for name in ("phone_number_id", "display_phone_number", "waba_id"):
            if not getattr(self, name).isdigit():
                raise ValueError(f"{name} must be digits")
        if not re.match(r"https?://", self.webhook_url):
            raise ValueError("webhook_url must be an http(s) URL")
        checks = {
            "access_token": bool(self.access_token),
            "app_secret": bool(self.app_secret),
            "throughput_per_second": self.throughput_per_second >= 1,
            "pair_limit_burst": self.pair_limit_burst >= 1,
            "pair_limit_interval_seconds": self.pair_limit_interval_seconds > 0,
            "sent_delay_seconds": self.sent_delay_seconds >= 0,
            "delivered_delay_seconds": self.delivered_delay_seconds >= self.sent_delay_seconds,
            "read_delay_seconds": self.read_delay_seconds >= self.delivered_delay_seconds,
            "failure_rate": 0.0 <= self.failure_rate <= 1.0,
            "window_error_mode": self.window_error_mode in WINDOW_ERROR_MODES,
            "window_seconds": self.window_seconds > 0,
            "webhook_max_attempts": self.webhook_max_attempts >= 1,
            "webhook_retry_base_seconds": self.webhook_retry_base_seconds >= 0,
            "webhook_timeout_seconds": self.webhook_timeout_seconds > 0,
            "webhook_senders": 1 <= self.webhook_senders <= 256,
            "status_sample_rate": 0.0 <= self.status_sample_rate <= 1.0,
            "statuses_per_webhook": 1 <= self.statuses_per_webhook <= 1000,
            "thread_max_messages": self.thread_max_messages >= 10,
            "template_review_seconds": self.template_review_seconds >= 0,
            "default_ttl_seconds": self.default_ttl_seconds > 0,
            "media_max_total_bytes": self.media_max_total_bytes >= 1024 * 1024,
        }
        invalid = [name for name, is_valid in checks.items() if not is_valid]
        if invalid:
            raise ValueError(f"invalid value for {', '.join(invalid)}")

    @classmethod
    def field_types(cls) -> dict[str, object]:
        return {config_field.name: config_field.type for config_field in dataclasses.fields(cls)}

    @classmethod
    def env_name(cls, field_name: str) -> str:
        return ENV_PREFIX + field_name.upper()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "SimulatorConfig":
        """Defaults overridden by ``SIMULATOR_*`` variables."""
        environ = os.environ if environ is None else environ
        values = {
            name: environ[cls.env_name(name)]
            for name in cls.field_types()
            if cls.env_name(name) in environ
        }
        return cls().updated(values)

    def updated(self, changes: Mapping[str, object]) -> "SimulatorConfig":
        """A copy with ``changes`` applied; raises ValueError for unknown fields or values."""
        types = self.field_types()
        unknown = sorted(set(changes) - set(types))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        coerced: dict[str, Any] = {}
        for name, value in changes.items():
            try:
                coerced[name] = _coerce(types[name], value)
            except (TypeError, ValueError) as error:
                raise ValueError(f"invalid value for {name}: {error}") from error
        return dataclasses.replace(self, **coerced)

    def as_public_dict(self) -> dict[str, Any]:
        """The settings for the control API, with the two secrets masked."""
        values = dataclasses.asdict(self)
        for secret_name in ("access_token", "app_secret"):
            values[secret_name] = "***"
        return values


# --- state ----------------------------------------------------------------------------------------


class ControlError(Exception):
    """A control-API or phone-UI request the simulator cannot perform."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class StatusEvent:
    status: str
    timestamp: float


@dataclass
class ThreadMessage:
    """One message of a citizen's chat, in either direction.

    ``direction`` is seen from the business: "in" = citizen to city, "out" = city to citizen.
    ``content`` is the request's type object (out) or Meta's message object (in).
    """

    id: str
    direction: str
    type: str
    timestamp: float
    content: dict[str, Any]
    summary: str
    status: str | None = None
    status_history: list[StatusEvent] = field(default_factory=list)
    error: dict[str, Any] | None = None
    context_message_id: str | None = None
    biz_opaque_callback_data: str | None = None
    template: RenderedTemplate | None = None
    reply_options: tuple[tuple[str, str], ...] = ()
    answered_option: str | None = None
    citizen_reaction: str = ""
    business_reaction: str = ""
    is_read_by_business: bool = False
    conversation: dict[str, Any] | None = None
    pricing: dict[str, Any] | None = None
    webhook_payload: WebhookPayload | None = None
    # Until when Meta tries to deliver it (its template's TTL, else the default).
    expires_at: float | None = None


@dataclass
class Citizen:
    """A simulated WhatsApp user and their chat with the city."""

    wa_id: str
    name: str
    created_at: float
    is_reachable: bool = True
    # An offline phone (switched off, no network) gets messages "sent" but not delivered;
    # Meta keeps trying until the message's time-to-live runs out.
    is_online: bool = True
    last_inbound_at: float | None = None
    typing_until: float = 0.0
    version: int = 0
    messages: list[ThreadMessage] = field(default_factory=list)
    conversations: dict[str, tuple[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class MediaItem:
    """An uploaded file, by business (Graph API) or citizen (phone)."""

    id: str
    data: bytes
    mime_type: str
    sha256: str
    filename: str
    created_at: float

    @property
    def file_size(self) -> int:
        return len(self.data)


class Dispatcher(Protocol):
    """What the simulator needs from webhook delivery (a fake in unit tests)."""

    def schedule(self, delay: float, job: Job) -> None: ...

    def submit(self, payload: WebhookPayload, delay: float = 0.0) -> None: ...

    def clear(self) -> int: ...

    def flush(self, timeout: float) -> bool: ...

    def stats(self) -> dict[str, Any]: ...

    def reset_stats(self) -> None: ...


def new_wamid() -> str:
    """A unique message id shaped like Meta's. Random only: real wamids encode the phone
    number, which would put it in every log line that mentions a message id."""
    return "wamid." + base64.b64encode(b"\x1c\x18\x0c" + secrets.token_bytes(33)).decode()


def new_media_id() -> str:
    return str(10**15 + secrets.randbelow(9 * 10**15))


def _unix_seconds(timestamp: float | None) -> int | None:
    return None if timestamp is None else int(timestamp)


# --- rate limits --------------------------------------------------------------------------------


class ThroughputLimiter:
    """Sends per phone number in the last rolling second (Meta's throughput, 130429)."""

    def __init__(self) -> None:
        self._sent: dict[str, deque[float]] = {}

    def has_capacity(self, key: str, now: float, limit: int) -> bool:
        sent = self._sent.setdefault(key, deque())
        while sent and sent[0] <= now - 1.0:
            sent.popleft()
        return len(sent) < limit

    def record(self, key: str, now: float) -> None:
        self._sent.setdefault(key, deque()).append(now)


class PairRateLimiter:
    """A token bucket per recipient: ``burst`` sends at once, then one per ``interval``.

    Mirrors Meta's pair rate limit (about 1 message per 6 s to one user, short bursts
    borrow from later; 131056).
    """

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}

    def _tokens(self, key: str, now: float, burst: int, interval: float) -> float:
        tokens, updated_at = self._buckets.get(key, (float(burst), now))
        return min(float(burst), tokens + max(0.0, now - updated_at) / interval)

    def has_capacity(self, key: str, now: float, burst: int, interval: float) -> bool:
        return self._tokens(key, now, burst, interval) >= 1.0

    def record(self, key: str, now: float, burst: int, interval: float) -> None:
        self._buckets[key] = (self._tokens(key, now, burst, interval) - 1.0, now)


# --- the simulator ------------------------------------------------------------------------------


class Simulator:
    """Meta's side of the Cloud API plus the citizens' phones, for one business number."""

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        clock: Clock = time.time,
        dispatcher: Dispatcher | None = None,
        rng: random.Random | None = None,
        templates: list[MessageTemplate] | None = None,
    ) -> None:
        self._initial_config = config or SimulatorConfig()
        self._config = self._initial_config
        self._clock = clock
        # Not for security: decides which sends fail when failure_rate is set.
        self._rng = rng or random.Random()  # noqa: S311
        self._initial_templates = templates if templates is not None else load_templates()
        self._lock = threading.RLock()
        self._dispatcher: Dispatcher = dispatcher or WebhookDispatcher(
            lambda: self._config, senders=self._config.webhook_senders
        )
        self.counters = Counters()
        self.send_latency = LatencyRecorder()
        self._initialise_state()

    def _initialise_state(self) -> None:
        self._citizens: dict[str, Citizen] = {}
        self._messages: dict[str, tuple[Citizen, ThreadMessage]] = {}
        self._media: OrderedDict[str, MediaItem] = OrderedDict()
        self._media_bytes = 0
        self._throughput = ThroughputLimiter()
        self._pair_limiter = PairRateLimiter()
        # When the latest send was accepted: a benchmark's end to the moment, not to its poll.
        self._last_accepted_at: float | None = None
        self._templates = TemplateRegistry(self._initial_templates)
        # The latest submission of each template id, and its number (older reviews are void).
        self._template_submissions: dict[str, tuple[int, dict[str, Any]]] = {}
        if self._config.load_personas:
            self.load_personas()

    # -- configuration --

    @property
    def config(self) -> SimulatorConfig:
        return self._config

    def update_config(self, changes: Mapping[str, object]) -> SimulatorConfig:
        """Apply a partial update; raises ValueError and changes nothing if it is invalid."""
        with self._lock:
            self._config = self._config.updated(changes)
            return self._config

    def reset(self, *, restore_config: bool = False) -> None:
        """Forget citizens, messages, media, limits, stats and pending webhooks."""
        with self._lock:
            self._dispatcher.clear()
            if restore_config:
                self._config = self._initial_config
            self._initialise_state()
            # The dropped messages may have been frozen by a full collection.
            collector.thaw()
            self.counters.reset()
            self.send_latency.reset()
            self._dispatcher.reset_stats()
        logger.info("Simulator state reset")

    # -- Graph API --

    def authenticate(self, access_token: str | None) -> None:
        """Raise the OAuth error (HTTP 401, code 190) unless the bearer token is right."""
        if not access_token:
            raise errors.access_token_error(is_missing=True)
        if not secrets.compare_digest(access_token.encode(), self._config.access_token.encode()):
            raise errors.access_token_error(is_missing=False)

    def _check_route(self, version: str, phone_number_id: str | None = None) -> None:
        if not API_VERSION_RE.fullmatch(version):
            raise GraphError(
                errors.UNKNOWN_PATH, message=f"Unknown path components: /{version}", subcode=None
            )
        if phone_number_id is not None and phone_number_id != self._config.phone_number_id:
            raise errors.unknown_object(phone_number_id)

    def send(
        self,
        *,
        version: str,
        phone_number_id: str,
        access_token: str | None,
        payload: object,
    ) -> dict[str, Any]:
        """``POST /{version}/{phone_number_id}/messages``: a send or a mark-as-read."""
        started = time.perf_counter()
        try:
            self.authenticate(access_token)
            self._check_route(version, phone_number_id)
            with self._lock:
                request = validate_request(
                    payload,
                    template_lookup=self._templates.get,
                    media_exists=self._media.__contains__,
                )
                if isinstance(request, MarkAsRead):
                    return self._mark_as_read(request)
                return self._accept(request)
        except GraphError as error:
            self.counters.increment("sends_rejected")
            self.counters.increment(f"error_{error.code}")
            raise
        finally:
            self.send_latency.record(time.perf_counter() - started)

    def _accept(self, request: OutboundSend) -> dict[str, Any]:
        """Apply Meta's send rules; caller holds the lock."""
        config = self._config
        now = self._clock()
        # A refused send leaves no trace: a new recipient is only registered on acceptance.
        citizen = self._citizens.get(request.wa_id) or Citizen(
            wa_id=request.wa_id, name="", created_at=now
        )
        reaction_target: ThreadMessage | None = None
        if request.type == "reaction":
            reaction_target = self._message_of(citizen, str(request.content["message_id"]))
            if reaction_target is None:
                raise errors.invalid_value("reaction['message_id'] is not a message of this chat.")
        if not self._throughput.has_capacity(
            config.phone_number_id, now, config.throughput_per_second
        ):
            raise GraphError(errors.THROUGHPUT_LIMIT)
        if not self._pair_limiter.has_capacity(
            citizen.wa_id, now, config.pair_limit_burst, config.pair_limit_interval_seconds
        ):
            raise GraphError(errors.PAIR_RATE_LIMIT)
        is_inside_window = (
            citizen.last_inbound_at is not None
            and now - citizen.last_inbound_at < config.window_seconds
        )
        needs_window = request.type != "template"
        if needs_window and not is_inside_window and config.window_error_mode == "sync":
            raise GraphError(errors.OUTSIDE_SERVICE_WINDOW)

        # Only accepted sends use up throughput and pair budget.
        self._throughput.record(config.phone_number_id, now)
        self._last_accepted_at = now
        self._pair_limiter.record(
            citizen.wa_id, now, config.pair_limit_burst, config.pair_limit_interval_seconds
        )
        self._register(citizen)
        wamid = new_wamid()
        category = request.template.category if request.template else "service"
        message = ThreadMessage(
            id=wamid,
            direction="out",
            type=request.type,
            timestamp=now,
            content=request.content,
            summary=request.summary,
            status="accepted",
            status_history=[StatusEvent("accepted", now)],
            context_message_id=request.context_message_id,
            biz_opaque_callback_data=request.biz_opaque_callback_data,
            template=request.template,
            reply_options=request.reply_options,
            conversation=self._conversation(citizen, category, now),
            pricing=self._pricing(category, is_inside_window=is_inside_window),
        )
        self._append(citizen, message)
        citizen.typing_until = 0.0
        if reaction_target is not None:
            reaction_target.business_reaction = str(request.content["emoji"])

        failure_code: int | None = None
        if needs_window and not is_inside_window:
            failure_code = errors.OUTSIDE_SERVICE_WINDOW
        elif not citizen.is_reachable or self._rng.random() < config.failure_rate:
            failure_code = errors.UNDELIVERABLE
        if failure_code is not None:
            self._dispatcher.schedule(
                config.sent_delay_seconds, self._status_job(wamid, "failed", failure_code)
            )
        elif config.status_sample_rate < 1.0 and self._rng.random() >= config.status_sample_rate:
            self.counters.increment("without_statuses")
        elif not citizen.is_online:
            ttl = (
                request.template.message_send_ttl_seconds
                if request.template is not None
                and request.template.message_send_ttl_seconds is not None
                else config.default_ttl_seconds
            )
            message.expires_at = now + ttl
            self._dispatcher.schedule(config.sent_delay_seconds, self._status_job(wamid, "sent"))
            self._dispatcher.schedule(ttl, self._expiry_job(wamid))
        else:
            self._dispatcher.schedule(config.sent_delay_seconds, self._status_job(wamid, "sent"))
            self._dispatcher.schedule(
                config.delivered_delay_seconds, self._status_job(wamid, "delivered")
            )
            if config.auto_read:
                self._dispatcher.schedule(
                    config.read_delay_seconds, self._status_job(wamid, "read")
                )
        self.counters.increment("sends_accepted")
        self.counters.increment(f"sends_{request.type}")

        sent_message: dict[str, Any] = {"id": wamid}
        if request.type == "template":
            sent_message["message_status"] = "accepted"
        return {
            "messaging_product": "whatsapp",
            "contacts": [{"input": request.to, "wa_id": citizen.wa_id}],
            "messages": [sent_message],
        }

    def _conversation(self, citizen: Citizen, category: str, now: float) -> dict[str, Any]:
        """The 24-hour conversation a message belongs to, opened on first use per category."""
        conversation_id, expires_at = citizen.conversations.get(category, ("", 0.0))
        if expires_at <= now:
            conversation_id = secrets.token_hex(16)
            expires_at = now + 86400
            citizen.conversations[category] = (conversation_id, expires_at)
        return {
            "id": conversation_id,
            "expiration_timestamp": str(int(expires_at)),
            "origin": {"type": category},
        }

    @staticmethod
    def _pricing(category: str, *, is_inside_window: bool) -> dict[str, Any]:
        """Per-message pricing (Meta's PMP since July 2025): service replies and utility
        templates inside the customer service window are free."""
        is_free = is_inside_window and category in ("service", "utility")
        return {
            "billable": not is_free,
            "pricing_model": "PMP",
            "category": category,
            "type": "free_customer_service" if is_free else "regular",
        }

    def _mark_as_read(self, request: MarkAsRead) -> dict[str, Any]:
        """The business marks a citizen message (and all before it) as read; caller holds lock."""
        entry = self._messages.get(request.message_id)
        if entry is None or entry[1].direction != "in":
            raise errors.invalid_parameter("Param message_id is not a received message.")
        citizen, target = entry
        for message in citizen.messages:
            if message.direction == "in" and message.timestamp <= target.timestamp:
                message.is_read_by_business = True
        if request.show_typing:
            citizen.typing_until = self._clock() + TYPING_INDICATOR_SECONDS
        citizen.version += 1
        self.counters.increment("marked_read")
        return {"success": True}

    def _expiry_job(self, wamid: str) -> Job:
        return StatusJob(
            message_id=wamid,
            emit=functools.partial(self._expire_if_undelivered, wamid),
            build=self._status_webhook,
        )

    def _expire_if_undelivered(self, wamid: str) -> dict[str, Any] | None:
        """A message to an offline phone whose time-to-live has run out fails with 131026,
        as Meta drops it; None while it is still valid or was delivered meanwhile."""
        with self._lock:
            entry = self._messages.get(wamid)
            if entry is None:
                return None
            message = entry[1]
            if message.status not in ("accepted", "sent") or message.expires_at is None:
                return None
            if self._clock() < message.expires_at:
                return None
        return self._advance_status(wamid, "failed", errors.UNDELIVERABLE)

    def _deliver_waiting(self, citizen: Citizen) -> None:
        """A phone came online: what is still valid is delivered, what expired fails.
        Caller holds the lock."""
        config = self._config
        now = self._clock()
        for message in citizen.messages:
            if message.direction != "out" or message.expires_at is None:
                continue
            if message.status not in ("accepted", "sent"):
                continue
            if now >= message.expires_at:
                self._dispatcher.schedule(0.0, self._expiry_job(message.id))
                continue
            message.expires_at = None
            self._dispatcher.schedule(0.0, self._status_job(message.id, "sent"))
            self._dispatcher.schedule(
                config.delivered_delay_seconds - config.sent_delay_seconds,
                self._status_job(message.id, "delivered"),
            )
            if config.auto_read:
                self._dispatcher.schedule(
                    config.read_delay_seconds - config.sent_delay_seconds,
                    self._status_job(message.id, "read"),
                )

    def _status_job(self, wamid: str, status: str, error_code: int | None = None) -> Job:
        return StatusJob(
            message_id=wamid,
            emit=functools.partial(self._advance_status, wamid, status, error_code),
            build=self._status_webhook,
        )

    def _emit_status(
        self, wamid: str, status: str, error_code: int | None = None
    ) -> WebhookPayload | None:
        """Move a business message to ``status`` now and build its status webhook.

        Returns None when the message is gone (reset, trimmed) or already further along.
        """
        entry = self._advance_status(wamid, status, error_code)
        return None if entry is None else self._status_webhook([entry])

    def _status_webhook(self, entries: list[dict[str, Any]]) -> WebhookPayload:
        """One signed status webhook carrying ``entries`` (``value.statuses``), in order."""
        config = self._config
        webhook = self._envelope(config, {"statuses": entries})
        message_ids = tuple(entry["id"] for entry in entries)
        return webhooks.build_payload(
            config.app_secret,
            webhook,
            kind="status",
            reference=message_ids[0],
            message_ids=message_ids,
        )

    def _advance_status(
        self, wamid: str, status: str, error_code: int | None = None
    ) -> dict[str, Any] | None:
        """Move a business message to ``status`` now; its ``statuses[]`` entry, or None when
        the message is gone (reset, trimmed) or already further along."""
        with self._lock:
            entry = self._messages.get(wamid)
            if entry is None:
                return None
            citizen, message = entry
            if STATUS_RANK[message.status or "accepted"] >= STATUS_RANK[status]:
                return None
            now = self._clock()
            message.status = status
            message.status_history.append(StatusEvent(status, now))
            error_list = None
            if error_code is not None:
                message.error = errors.webhook_error(error_code)
                error_list = [message.error]
            citizen.version += 1
            self.counters.increment(f"status_{status}")
            # Meta attaches conversation and pricing to sent/delivered, not to read or failed.
            has_pricing = status in ("sent", "delivered")
            return webhooks.status_object(
                wamid=wamid,
                status=status,
                timestamp=now,
                recipient_id=citizen.wa_id,
                conversation=message.conversation if has_pricing else None,
                pricing=message.pricing if has_pricing else None,
                errors=error_list,
                biz_opaque_callback_data=message.biz_opaque_callback_data,
            )

    @staticmethod
    def _envelope(config: SimulatorConfig, value: dict[str, Any]) -> dict[str, Any]:
        return webhooks.envelope(
            waba_id=config.waba_id,
            display_phone_number=config.display_phone_number,
            phone_number_id=config.phone_number_id,
            value=value,
        )

    # -- media --

    def upload_media(
        self,
        *,
        version: str,
        phone_number_id: str,
        access_token: str | None,
        messaging_product: str | None,
        data: bytes | None,
        mime_type: str,
        filename: str,
    ) -> dict[str, Any]:
        """``POST /{version}/{phone_number_id}/media`` (multipart ``file``)."""
        self.authenticate(access_token)
        self._check_route(version, phone_number_id)
        if messaging_product != "whatsapp":
            raise errors.invalid_parameter("The parameter messaging_product is required.")
        if data is None:
            raise errors.invalid_parameter("The parameter file is required.")
        media = self._store_media(data, mime_type, filename)
        self.counters.increment("media_uploaded")
        return {"id": media.id}

    def _store_media(self, data: bytes, mime_type: str, filename: str) -> MediaItem:
        mime_type = mime_type.split(";")[0].strip().lower()
        limit = MEDIA_LIMITS.get(mime_type)
        if limit is None:
            raise GraphError(
                errors.MEDIA_ERROR,
                f"Param file must be a file with one of the following types: "
                f"{', '.join(sorted(MEDIA_LIMITS))}. Received file of type '{mime_type}'.",
            )
        if not data or len(data) > limit[1]:
            raise GraphError(
                errors.MEDIA_ERROR, f"Param file must be 1 to {limit[1]} bytes for {mime_type}."
            )
        media = MediaItem(
            id=new_media_id(),
            data=data,
            mime_type=mime_type,
            sha256=hashlib.sha256(data).hexdigest(),
            filename=filename[:240],
            created_at=self._clock(),
        )
        with self._lock:
            self._media[media.id] = media
            self._media_bytes += media.file_size
            # Oldest media go first once the store is full (Meta expires media too).
            while self._media_bytes > self._config.media_max_total_bytes and len(self._media) > 1:
                _, evicted = self._media.popitem(last=False)
                self._media_bytes -= evicted.file_size
        return media

    def media_info(self, *, version: str, media_id: str, access_token: str | None) -> MediaItem:
        """``GET /{version}/{media_id}``; the view adds the download URL."""
        self.authenticate(access_token)
        self._check_route(version)
        media = self.get_media(media_id)
        if media is None:
            raise errors.unknown_object(media_id, method="get")
        return media

    def delete_media(self, *, version: str, media_id: str, access_token: str | None) -> None:
        """``DELETE /{version}/{media_id}``."""
        self.authenticate(access_token)
        self._check_route(version)
        with self._lock:
            media = self._media.pop(media_id, None)
            if media is None:
                raise errors.unknown_object(media_id, method="delete")
            self._media_bytes -= media.file_size

    def phone_number_info(self, *, version: str, access_token: str | None) -> dict[str, Any]:
        """``GET /{version}/{phone_number_id}``: the business number as Meta describes it."""
        self.authenticate(access_token)
        self._check_route(version)
        config = self._config
        return {
            "verified_name": config.business_name,
            "code_verification_status": "VERIFIED",
            "display_phone_number": "+" + config.display_phone_number,
            "quality_rating": "GREEN",
            "platform_type": "CLOUD_API",
            "throughput": {"level": "STANDARD"},
            "id": config.phone_number_id,
        }

    def get_media(self, media_id: str) -> MediaItem | None:
        with self._lock:
            return self._media.get(media_id)

    # -- citizens --

    def _register(self, citizen: Citizen) -> None:
        """Keep a citizen created on first use; caller holds the lock."""
        if citizen.wa_id not in self._citizens:
            self._citizens[citizen.wa_id] = citizen
            self.counters.increment("citizens_created")

    def upsert_citizen(
        self,
        wa_id: str,
        *,
        name: str | None = None,
        is_reachable: bool | None = None,
        is_online: bool | None = None,
    ) -> dict[str, Any]:
        """Create a citizen (or rename, or make unreachable: sends then fail with 131026;
        or take the phone offline: messages wait for it until their time-to-live ends)."""
        wa_id = _check_wa_id(wa_id)
        if name is not None and len(name) > 100:
            raise ControlError("name must have at most 100 characters")
        with self._lock:
            citizen = self._citizens.get(wa_id) or Citizen(
                wa_id=wa_id, name="", created_at=self._clock()
            )
            self._register(citizen)
            if name:
                citizen.name = name
            if is_reachable is not None:
                citizen.is_reachable = is_reachable
            if is_online is not None:
                was_online, citizen.is_online = citizen.is_online, is_online
                if is_online and not was_online:
                    self._deliver_waiting(citizen)
            citizen.version += 1
            return self._citizen_dict(citizen)

    def citizens(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                self._citizen_dict(citizen)
                for citizen in sorted(self._citizens.values(), key=lambda c: c.created_at)
            ]

    def citizen(self, wa_id: str) -> dict[str, Any] | None:
        with self._lock:
            citizen = self._citizens.get(wa_id)
            return None if citizen is None else self._citizen_dict(citizen)

    def _citizen_dict(self, citizen: Citizen) -> dict[str, Any]:
        now = self._clock()
        return {
            "wa_id": citizen.wa_id,
            "name": citizen.name,
            "reachable": citizen.is_reachable,
            "online": citizen.is_online,
            "last_inbound_at": _unix_seconds(citizen.last_inbound_at),
            "window_open": citizen.last_inbound_at is not None
            and now - citizen.last_inbound_at < self._config.window_seconds,
            "is_typing_shown": citizen.typing_until > now,
            "message_count": len(citizen.messages),
            "version": citizen.version,
        }

    @staticmethod
    def personas() -> list[dict[str, str]]:
        """The demo citizens of Musterstadt shipped with the app (also seeded by the demo)."""
        return load_personas()

    def load_personas(self) -> int:
        personas = self.personas()
        for persona in personas:
            self.upsert_citizen(persona["wa_id"], name=persona["name"])
        return len(personas)

    # -- the citizen's phone --

    def citizen_send(self, wa_id: str, action: Mapping[str, Any]) -> str:
        """The citizen does something in WhatsApp; returns the new inbound wamid.

        ``action`` by ``type`` (``name`` optionally sets the profile name on any of them):
        text: ``text``, optional ``context_message_id`` (a quoted message);
        button_reply: ``message_id``, ``button_id``; list_reply: ``message_id``, ``row_id``;
        button (template quick reply): ``message_id`` and ``index`` or ``text``;
        reaction: ``message_id``, ``emoji`` ("" removes it);
        location: ``latitude``, ``longitude``, optional ``location_name``, ``address``;
        image/document/audio/video/sticker: ``media_id`` or ``data_base64`` + ``mime_type``
        (optional ``filename``), optional ``caption``.
        """
        wa_id = _check_wa_id(wa_id)
        action_type = action.get("type")
        name = action.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 100):
            raise ControlError("name must be a string of at most 100 characters")
        with self._lock:
            config = self._config
            now = self._clock()
            # An invalid action leaves no trace: a new citizen is only registered on success.
            citizen = self._citizens.get(wa_id) or Citizen(wa_id=wa_id, name="", created_at=now)
            message_type, content, summary, context = self._citizen_content(
                citizen, action_type, action, config
            )
            self._register(citizen)
            if name:
                citizen.name = name
            elif not citizen.name:
                # WhatsApp always reports a profile name; invent a neutral one.
                citizen.name = f"Bürger {wa_id[-4:]}"
            wamid = new_wamid()
            message_object = webhooks.inbound_message(
                wamid=wamid,
                wa_id=wa_id,
                timestamp=now,
                message_type=message_type,
                content=content,
                context=context,
            )
            webhook = self._envelope(
                config,
                {
                    "contacts": [webhooks.contact(wa_id, citizen.name)],
                    "messages": [message_object],
                },
            )
            payload = webhooks.build_payload(
                config.app_secret, webhook, kind="message", reference=wamid, sender=wa_id
            )
            self._append(
                citizen,
                ThreadMessage(
                    id=wamid,
                    direction="in",
                    type=message_type,
                    timestamp=now,
                    content=message_object,
                    summary=summary,
                    context_message_id=context["id"] if context else None,
                    webhook_payload=payload,
                ),
            )
            citizen.last_inbound_at = now
            citizen.typing_until = 0.0
            self.counters.increment("inbound_messages")
            self.counters.increment(f"inbound_{message_type}")
        self._dispatcher.submit(payload)
        return wamid

    def citizen_change_number(self, wa_id: str, new_wa_id: str) -> str:
        """The citizen moves their WhatsApp account to a new number (Settings → Account →
        Change number): the chat goes on under ``new_wa_id`` and the business gets a
        ``system`` message of type ``user_changed_number`` from the old number, without a
        contacts array, as Meta sends it. A phone already known under the new number (the
        citizen wrote from it first) becomes part of the same chat. Returns the notice's
        wamid."""
        wa_id, new_wa_id = _check_wa_id(wa_id), _check_wa_id(new_wa_id)
        if new_wa_id == wa_id:
            raise ControlError("new_wa_id must differ from the current number")
        with self._lock:
            citizen = self._citizens.get(wa_id)
            if citizen is None:
                raise ControlError("unknown citizen", status=404)
            config = self._config
            now = self._clock()
            wamid = new_wamid()
            # https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/system/
            content = {
                "body": f"User {citizen.name} changed from {wa_id} to {new_wa_id}",
                "wa_id": new_wa_id,
                "type": "user_changed_number",
            }
            message_object = webhooks.inbound_message(
                wamid=wamid, wa_id=wa_id, timestamp=now, message_type="system", content=content
            )
            webhook = self._envelope(config, {"messages": [message_object]})
            payload = webhooks.build_payload(
                config.app_secret, webhook, kind="message", reference=wamid, sender=wa_id
            )
            del self._citizens[wa_id]
            earlier = self._citizens.pop(new_wa_id, None)
            citizen.wa_id = new_wa_id
            if earlier is not None:
                for message in earlier.messages:
                    self._messages[message.id] = (citizen, message)
                citizen.messages = sorted(
                    earlier.messages + citizen.messages, key=lambda message: message.timestamp
                )
            self._citizens[new_wa_id] = citizen
            citizen.version += 1
            self.counters.increment("number_changes")
        self._dispatcher.submit(payload)
        return wamid

    def _citizen_content(
        self,
        citizen: Citizen,
        action_type: object,
        action: Mapping[str, Any],
        config: SimulatorConfig,
    ) -> tuple[str, dict[str, Any], str, dict[str, Any] | None]:
        """Message type, Meta content object, summary and context of a citizen action."""
        if action_type == "text":
            body = action.get("text")
            if not isinstance(body, str) or not body.strip() or len(body) > 4096:
                raise ControlError("text must have 1 to 4096 characters")
            context = None
            quoted_id = action.get("context_message_id")
            if quoted_id:
                quoted = self._required_message(citizen, quoted_id, direction=None)
                context = webhooks.reply_context(config.display_phone_number, quoted.id)
            return "text", webhooks.text_content(body), body, context

        if action_type in ("button_reply", "list_reply"):
            target = self._required_message(citizen, action.get("message_id"), direction="out")
            expected = "button" if action_type == "button_reply" else "list"
            if target.type != "interactive" or target.content.get("type") != expected:
                raise ControlError(f"message is not an interactive {expected} message")
            option_id = action.get("button_id" if action_type == "button_reply" else "row_id")
            title = dict(target.reply_options).get(str(option_id))
            if title is None:
                raise ControlError("the message has no such option")
            target.answered_option = str(option_id)
            context = webhooks.reply_context(config.display_phone_number, target.id)
            if action_type == "button_reply":
                content = webhooks.button_reply_content(str(option_id), title)
            else:
                content = webhooks.list_reply_content(
                    str(option_id), title, _row_description(target, str(option_id))
                )
            return "interactive", content, title, context

        if action_type == "button":
            target = self._required_message(citizen, action.get("message_id"), direction="out")
            if target.template is None:
                raise ControlError("message is not a template message")
            quick_replies = [b for b in target.template.buttons if b.type == "quick_reply"]
            button = None
            if "index" in action:
                index = action["index"]
                if isinstance(index, int) and 0 <= index < len(target.template.buttons):
                    button = target.template.buttons[index]
            elif "text" in action:
                button = next((b for b in quick_replies if b.text == action["text"]), None)
            if button is None or button.type != "quick_reply":
                raise ControlError("the template has no such quick-reply button")
            target.answered_option = button.payload
            context = webhooks.reply_context(config.display_phone_number, target.id)
            content = webhooks.template_button_content(button.payload, button.text)
            return "button", content, button.text, context

        if action_type == "reaction":
            target = self._required_message(citizen, action.get("message_id"), direction="out")
            emoji = action.get("emoji", "")
            if not isinstance(emoji, str) or len(emoji) > 16:
                raise ControlError("emoji must be one emoji, or empty to remove the reaction")
            target.citizen_reaction = emoji
            return "reaction", webhooks.reaction_content(target.id, emoji), emoji, None

        if action_type == "location":
            try:
                latitude = float(action["latitude"])
                longitude = float(action["longitude"])
            except (KeyError, TypeError, ValueError) as error:
                raise ControlError("latitude and longitude are required numbers") from error
            if abs(latitude) > 90 or abs(longitude) > 180:
                raise ControlError("latitude/longitude out of range")
            location_name = str(action.get("location_name", ""))[:1000]
            address = str(action.get("address", ""))[:1000]
            content = webhooks.location_content(latitude, longitude, location_name, address)
            return "location", content, location_name or f"{latitude}, {longitude}", None

        if action_type in MEDIA_TYPES:
            media = self._citizen_media(action)
            media_type = str(action_type)
            if media_kind(media.mime_type) != media_type:
                raise ControlError(f"a {media.mime_type} file cannot be sent as {media_type}")
            caption = str(action.get("caption", ""))[:1024]
            content = webhooks.media_content(
                media_type,
                media_id=media.id,
                mime_type=media.mime_type,
                sha256=media.sha256,
                caption=caption,
                filename=media.filename,
            )
            return media_type, content, caption or f"[{media_type}]", None

        raise ControlError(
            "type must be one of text, button_reply, list_reply, button, reaction, location, "
            + ", ".join(sorted(MEDIA_TYPES))
        )

    def _citizen_media(self, action: Mapping[str, Any]) -> MediaItem:
        media_id = action.get("media_id")
        if media_id:
            media = self._media.get(str(media_id))
            if media is None:
                raise ControlError("unknown media_id", status=404)
            return media
        encoded = action.get("data_base64")
        mime_type = action.get("mime_type")
        if not isinstance(encoded, str) or not isinstance(mime_type, str):
            raise ControlError("media needs media_id, or data_base64 with mime_type")
        try:
            data = base64.b64decode(encoded, validate=True)
        except ValueError as error:
            raise ControlError("data_base64 is not valid base64") from error
        return self.store_citizen_media(data, mime_type, str(action.get("filename", "")))

    def store_citizen_media(self, data: bytes, mime_type: str, filename: str) -> MediaItem:
        """Keep a file a citizen attaches in the phone, under Meta's type and size limits."""
        try:
            return self._store_media(data, mime_type, filename)
        except GraphError as error:
            raise ControlError(error.details) from error

    def _required_message(
        self, citizen: Citizen, message_id: object, *, direction: str | None
    ) -> ThreadMessage:
        message = self._message_of(citizen, str(message_id)) if message_id else None
        if message is None or (direction is not None and message.direction != direction):
            raise ControlError("message_id is not a message of this chat", status=404)
        return message

    def _message_of(self, citizen: Citizen, message_id: str) -> ThreadMessage | None:
        entry = self._messages.get(message_id)
        if entry is None or entry[0] is not citizen:
            return None
        return entry[1]

    def _append(self, citizen: Citizen, message: ThreadMessage) -> None:
        """Add to the thread, dropping the oldest messages beyond thread_max_messages."""
        citizen.messages.append(message)
        self._messages[message.id] = (citizen, message)
        overflow = len(citizen.messages) - self._config.thread_max_messages
        if overflow > 0:
            for dropped in citizen.messages[:overflow]:
                self._messages.pop(dropped.id, None)
            del citizen.messages[:overflow]
        citizen.version += 1

    def mark_read_by_citizen(self, wa_id: str) -> int:
        """The citizen opened the chat: sent/delivered business messages become read now."""
        with self._lock:
            citizen = self._citizens.get(wa_id)
            if citizen is None:
                return 0
            unread = [
                message.id
                for message in citizen.messages
                if message.direction == "out" and message.status in ("sent", "delivered")
            ]
        payloads = [self._emit_status(wamid, "read") for wamid in unread]
        for payload in payloads:
            if payload is not None:
                self._dispatcher.submit(payload)
        return sum(payload is not None for payload in payloads)

    # -- reading state --

    def thread(self, wa_id: str) -> tuple[int, list[ThreadMessage]] | None:
        """The thread's version and a copy of its messages, or None for unknown citizens."""
        with self._lock:
            citizen = self._citizens.get(wa_id)
            if citizen is None:
                return None
            messages = []
            for message in citizen.messages:
                message_copy = copy.copy(message)
                message_copy.status_history = list(message.status_history)
                messages.append(message_copy)
            return citizen.version, messages

    def thread_version(self, wa_id: str) -> int | None:
        with self._lock:
            citizen = self._citizens.get(wa_id)
            return None if citizen is None else citizen.version

    # -- control --

    def redeliver(self, message_id: str, times: int) -> int:
        """Send the identical signed webhook of an inbound message ``times`` more times."""
        if not 1 <= times <= REDELIVER_MAX_TIMES:
            raise ControlError(f"times must be 1 to {REDELIVER_MAX_TIMES}")
        with self._lock:
            entry = self._messages.get(message_id)
            payload = entry[1].webhook_payload if entry else None
        if payload is None:
            raise ControlError("message_id is not a known inbound message", status=404)
        for _ in range(times):
            self._dispatcher.submit(payload)
        self.counters.increment("redelivered", times)
        return times

    def templates(self) -> list[dict[str, Any]]:
        with self._lock:
            return [template.to_dict() for template in self._templates.all()]

    def register_template(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Add or replace an approved template (as if created in WhatsApp Manager)."""
        try:
            template = MessageTemplate.from_dict(data)
        except ValueError as error:
            raise ControlError(str(error)) from error
        with self._lock:
            self._templates.register(template)
        return template.to_dict()

    # -- message templates (WhatsApp Business Management API) --

    def _check_waba(self, version: str, waba_id: str, method: str) -> None:
        self._check_route(version)
        if waba_id != self._config.waba_id:
            raise errors.unknown_object(waba_id, method=method)

    def create_template(
        self, *, version: str, waba_id: str, access_token: str | None, payload: object
    ) -> dict[str, Any]:
        """``POST /{version}/{WABA_ID}/message_templates``: the template is PENDING until
        the review (``template_review_seconds`` later) approves or rejects it."""
        self.authenticate(access_token)
        self._check_waba(version, waba_id, "post")
        template = parse_submission(payload)
        with self._lock:
            if self._templates.get(template.name, template.language) is not None:
                raise GraphError(
                    errors.INVALID_PARAMETER,
                    "Content in this language already exists: "
                    f"{template.name} ({template.language})",
                    subcode=2388024,
                )
            self._templates.register(template)
            # parse_submission has checked that the payload is an object.
            self._schedule_review(template, cast(Mapping[str, Any], payload))
        self.counters.increment("templates_submitted")
        return {"id": template.id, "status": "PENDING", "category": template.category.upper()}

    def edit_template(
        self, *, version: str, template_id: str, access_token: str | None, payload: object
    ) -> dict[str, Any]:
        """``POST /{version}/{TEMPLATE_ID}``: a changed template goes back to review."""
        self.authenticate(access_token)
        self._check_route(version)
        if not isinstance(payload, Mapping):
            raise errors.invalid_parameter("The request body must be a JSON object.")
        with self._lock:
            current = self._templates.by_id(template_id)
            if current is None:
                raise errors.unknown_object(template_id)
            if current.status == "PENDING":
                raise errors.invalid_parameter("A template in review cannot be edited.")
            submission = {
                "category": current.category,
                **payload,
                "name": current.name,
                "language": current.language,
            }
            template = dataclasses.replace(parse_submission(submission), id=current.id)
            self._templates.register(template)
            self._schedule_review(template, submission)
        return {"success": True}

    def list_templates(
        self,
        *,
        version: str,
        waba_id: str,
        access_token: str | None,
        limit: int = 25,
        after: str = "",
    ) -> dict[str, Any]:
        """``GET /{version}/{WABA_ID}/message_templates`` with Meta's cursor paging."""
        self.authenticate(access_token)
        self._check_waba(version, waba_id, "get")
        limit = max(1, min(limit, 1000))
        try:
            start = int(base64.b64decode(after).decode()) if after else 0
        except ValueError as error:
            raise errors.invalid_parameter("Param after is not a valid cursor.") from error
        with self._lock:
            templates = self._templates.all()
        page = templates[start : start + limit]
        result: dict[str, Any] = {"data": [template.to_graph() for template in page]}
        if page:
            cursors = {
                "before": base64.b64encode(str(start).encode()).decode(),
                "after": base64.b64encode(str(start + len(page)).encode()).decode(),
            }
            result["paging"] = {"cursors": cursors}
            if start + len(page) < len(templates):
                result["paging"]["next"] = (
                    f"/{version}/{waba_id}/message_templates?limit={limit}&after={cursors['after']}"
                )
        return result

    def set_template_status(
        self, template_id: str, event: str, reason: str = "NONE"
    ) -> dict[str, Any]:
        """Meta changes a template (pauses it for low quality, disables it, …) and says so
        in a ``message_template_status_update`` webhook. Control API."""
        event = event.upper()
        if event not in ("APPROVED", "REJECTED", "PAUSED", "DISABLED"):
            raise ControlError("event must be APPROVED, REJECTED, PAUSED or DISABLED")
        with self._lock:
            current = self._templates.by_id(template_id)
            if current is None:
                raise ControlError("no template with this id", status=404)
            self._template_submissions.pop(template_id, None)
            template = dataclasses.replace(
                current, status=event, rejected_reason=reason if event == "REJECTED" else "NONE"
            )
            self._templates.register(template)
            self._dispatcher.submit(self._template_webhook(template, event, reason))
        return template.to_dict()

    def _schedule_review(self, template: MessageTemplate, submission: Mapping[str, Any]) -> None:
        """Caller holds the lock."""
        number = self._template_submissions.get(template.id, (0, {}))[0] + 1
        self._template_submissions[template.id] = (number, dict(submission))
        self._dispatcher.schedule(
            self._config.template_review_seconds,
            functools.partial(self._review_template, template.id, number),
        )

    def _review_template(self, template_id: str, number: int) -> WebhookPayload | None:
        """Meta's decision on a submission; None when it was replaced or reset meanwhile."""
        with self._lock:
            latest = self._template_submissions.get(template_id)
            template = self._templates.by_id(template_id)
            if latest is None or latest[0] != number or template is None:
                return None
            if template.status != "PENDING":
                return None
            del self._template_submissions[template_id]
            reason = review(template, latest[1])
            event = "REJECTED" if reason else "APPROVED"
            template = dataclasses.replace(template, status=event, rejected_reason=reason or "NONE")
            self._templates.register(template)
            self.counters.increment(f"templates_{event.lower()}")
            return self._template_webhook(template, event, reason or "NONE")

    def _template_webhook(
        self, template: MessageTemplate, event: str, reason: str
    ) -> WebhookPayload:
        config = self._config
        value = {
            "event": event,
            "message_template_id": int(template.id),
            "message_template_name": template.name,
            "message_template_language": template.language,
            "reason": reason or "NONE",
            "message_template_category": template.category.upper(),
        }
        webhook = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": config.waba_id,
                    "time": int(self._clock()),
                    "changes": [{"value": value, "field": "message_template_status_update"}],
                }
            ],
        }
        return webhooks.build_payload(
            config.app_secret, webhook, kind="template", reference=template.id
        )

    def flush(self, timeout: float) -> bool:
        """Wait until every scheduled webhook was delivered or dropped."""
        return self._dispatcher.flush(timeout)

    def stats(self) -> dict[str, Any]:
        counts = self.counters.snapshot()
        errors_by_code = {
            name.removeprefix("error_"): value
            for name, value in counts.items()
            if name.startswith("error_")
        }
        with self._lock:
            citizen_count = len(self._citizens)
            media_count = len(self._media)
            last_accepted_at = self._last_accepted_at
        return {
            "sends": {
                "accepted": counts.get("sends_accepted", 0),
                "last_accepted_at": last_accepted_at,
                "rejected": counts.get("sends_rejected", 0),
                "by_type": _prefixed(counts, "sends_", exclude=("accepted", "rejected")),
                "errors_by_code": errors_by_code,
                "marked_read": counts.get("marked_read", 0),
                "without_statuses": counts.get("without_statuses", 0),
                "latency": self.send_latency.summary(),
            },
            "statuses": _prefixed(counts, "status_"),
            "inbound": {
                "messages": counts.get("inbound_messages", 0),
                "by_type": _prefixed(counts, "inbound_", exclude=("messages",)),
                "redelivered": counts.get("redelivered", 0),
            },
            "webhooks": self._dispatcher.stats(),
            "citizens": citizen_count,
            "media": media_count,
        }


def media_kind(mime_type: str) -> str:
    """The message type a file of this MIME type is sent as (image, document, ...)."""
    return MEDIA_LIMITS.get(mime_type, ("document", 0))[0]


def _prefixed(counts: Mapping[str, int], prefix: str, exclude: tuple[str, ...] = ()) -> dict:
    return {
        name.removeprefix(prefix): value
        for name, value in counts.items()
        if name.startswith(prefix) and name.removeprefix(prefix) not in exclude
    }


def _check_wa_id(wa_id: str) -> str:
    wa_id = wa_id.strip().removeprefix("+")
    if not WA_ID_RE.fullmatch(wa_id):
        raise ControlError("wa_id must be 6 to 15 digits")
    return wa_id


def _row_description(message: ThreadMessage, row_id: str) -> str:
    for section in message.content.get("action", {}).get("sections", []):
        for row in section.get("rows", []):
            if row.get("id") == row_id:
                return str(row.get("description", ""))
    return ""


def message_as_dict(message: ThreadMessage) -> dict[str, Any]:
    """A thread message for the control API (``GET /_sim/citizens/<wa_id>/messages``)."""
    return {
        "id": message.id,
        "direction": message.direction,
        "type": message.type,
        "timestamp": int(message.timestamp),
        "text": message.summary,
        "status": message.status,
        "statuses": [
            {"status": event.status, "timestamp": int(event.timestamp)}
            for event in message.status_history
        ],
        "error": message.error,
        "reactions": {"citizen": message.citizen_reaction, "business": message.business_reaction},
        "context_message_id": message.context_message_id,
        "biz_opaque_callback_data": message.biz_opaque_callback_data,
        "options": [
            {"id": option_id, "title": title} for option_id, title in message.reply_options
        ],
        "answered_option": message.answered_option,
        "read_by_business": message.is_read_by_business if message.direction == "in" else None,
        "template": dataclasses.asdict(message.template) if message.template else None,
        "content": message.content,
    }


# --- the process-wide instance ------------------------------------------------------------------

_instance: Simulator | None = None
_instance_lock = threading.Lock()


def get_simulator() -> Simulator:
    """The simulator of this process, configured from the environment on first use."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = Simulator(SimulatorConfig.from_env())
        return _instance
