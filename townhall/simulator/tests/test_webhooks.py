"""Webhook delivery: signing, ordering, retries with backoff, dropping, flushing.

The dispatcher runs its real threads against an in-memory httpx transport.
"""

import hashlib
import hmac
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import orjson
import pytest

from townhall.simulator import webhooks
from townhall.simulator.webhooks import WebhookDispatcher, WebhookPayload


@dataclass(frozen=True)
class DeliverySettings:
    webhook_url: str = "http://townhall.test/webhooks/whatsapp/"
    webhook_max_attempts: int = 4
    webhook_retry_base_seconds: float = 0.01
    webhook_timeout_seconds: float = 1.0


class RecordingTransport(httpx.BaseTransport):
    """Answers with the given status codes in turn (then 200) and records every request."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self._lock:
            self.requests.append(request)
            status = self.statuses.pop(0) if self.statuses else 200
        return httpx.Response(status)


def make_payload(reference: str = "wamid.A") -> WebhookPayload:
    envelope = webhooks.envelope(
        waba_id="200000000000001",
        display_phone_number="4929321000000",
        phone_number_id="100000000000001",
        value={"statuses": [{"id": reference, "status": "sent"}]},
    )
    return webhooks.build_payload("secret", envelope, kind="status", reference=reference)


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def dispatcher(transport: RecordingTransport) -> Iterator[WebhookDispatcher]:
    settings = DeliverySettings()
    dispatcher = WebhookDispatcher(lambda: settings, senders=2, transport=transport)
    yield dispatcher
    dispatcher.close()


def test_payload_is_posted_signed_with_the_raw_body(
    dispatcher: WebhookDispatcher, transport: RecordingTransport
) -> None:
    # given
    payload = make_payload()
    # when
    dispatcher.submit(payload)
    # then
    assert dispatcher.flush(5)
    (request,) = transport.requests
    assert str(request.url) == "http://townhall.test/webhooks/whatsapp/"
    assert request.content == payload.body
    assert request.headers["Content-Type"] == "application/json"
    expected = hmac.new(b"secret", payload.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Hub-Signature-256"] == f"sha256={expected}"
    assert dispatcher.stats()["delivered"] == 1


def test_scheduled_jobs_run_in_due_order(
    dispatcher: WebhookDispatcher, transport: RecordingTransport
) -> None:
    dispatcher.schedule(0.15, lambda: make_payload("wamid.late"))
    dispatcher.schedule(0.0, lambda: make_payload("wamid.early"))
    assert dispatcher.flush(5)
    references = [
        orjson.loads(request.content)["entry"][0]["changes"][0]["value"]["statuses"][0]["id"]
        for request in transport.requests
    ]
    assert references == ["wamid.early", "wamid.late"]


def test_failed_deliveries_are_retried_until_accepted() -> None:
    # given
    transport = RecordingTransport([500, 503])
    settings = DeliverySettings()
    dispatcher = WebhookDispatcher(lambda: settings, senders=2, transport=transport)
    try:
        # when
        dispatcher.submit(make_payload())
        # then
        assert dispatcher.flush(5)
        assert len(transport.requests) == 3
        assert {request.content for request in transport.requests} == {make_payload().body}
        stats = dispatcher.stats()
        assert (
            stats["delivered"],
            stats["failed_attempts"],
            stats["retried"],
            stats["dropped"],
        ) == (
            1,
            2,
            2,
            0,
        )
    finally:
        dispatcher.close()


def test_delivery_is_dropped_after_max_attempts() -> None:
    transport = RecordingTransport([500] * 10)
    settings = DeliverySettings(webhook_max_attempts=3)
    dispatcher = WebhookDispatcher(lambda: settings, senders=1, transport=transport)
    try:
        dispatcher.submit(make_payload())
        assert dispatcher.flush(5)
        assert len(transport.requests) == 3
        assert dispatcher.stats()["dropped"] == 1
        assert dispatcher.stats()["delivered"] == 0
    finally:
        dispatcher.close()


def test_job_returning_none_sends_nothing(
    dispatcher: WebhookDispatcher, transport: RecordingTransport
) -> None:
    dispatcher.schedule(0.0, lambda: None)
    assert dispatcher.flush(5)
    assert transport.requests == []
    assert dispatcher.stats()["skipped"] == 1


def test_flush_times_out_while_work_is_scheduled_and_clear_drops_it(
    dispatcher: WebhookDispatcher, transport: RecordingTransport
) -> None:
    dispatcher.schedule(60.0, make_payload)
    assert dispatcher.flush(0.05) is False
    assert dispatcher.clear() == 1
    assert dispatcher.flush(1) is True
    assert transport.requests == []


def test_connection_errors_count_as_failed_attempts() -> None:
    class BrokenTransport(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

    settings = DeliverySettings(webhook_max_attempts=2)
    dispatcher = WebhookDispatcher(lambda: settings, senders=1, transport=BrokenTransport())
    try:
        dispatcher.submit(make_payload())
        assert dispatcher.flush(5)
        assert (dispatcher.stats()["failed_attempts"], dispatcher.stats()["dropped"]) == (2, 1)
    finally:
        dispatcher.close()


def test_inbound_message_object_shape() -> None:
    message = webhooks.inbound_message(
        wamid="wamid.X",
        wa_id="4915112345601",
        timestamp=1_800_000_000.9,
        message_type="interactive",
        content=webhooks.button_reply_content("ja", "Ja"),
        context=webhooks.reply_context("4929321000000", "wamid.Y"),
    )
    assert message == {
        "from": "4915112345601",
        "id": "wamid.X",
        "timestamp": "1800000000",
        "type": "interactive",
        "context": {"from": "4929321000000", "id": "wamid.Y"},
        "interactive": {"type": "button_reply", "button_reply": {"id": "ja", "title": "Ja"}},
    }
