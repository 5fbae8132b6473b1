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
from townhall.simulator.testing import WebhookReceiver
from townhall.simulator.webhooks import WebhookDispatcher, WebhookPayload


@dataclass(frozen=True)
class DeliverySettings:
    webhook_url: str = "http://townhall.test/webhooks/whatsapp/"
    webhook_max_attempts: int = 4
    webhook_retry_base_seconds: float = 0.01
    webhook_timeout_seconds: float = 1.0
    statuses_per_webhook: int = 1


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


def status_job(message_id: str, status: str) -> webhooks.StatusJob:
    def build(entries: list[dict[str, object]]) -> WebhookPayload:
        envelope = webhooks.envelope(
            waba_id="200000000000001",
            display_phone_number="4929321000000",
            phone_number_id="100000000000001",
            value={"statuses": entries},
        )
        ids = tuple(str(entry["id"]) for entry in entries)
        return webhooks.build_payload(
            "secret", envelope, kind="status", reference=ids[0], message_ids=ids
        )

    return webhooks.StatusJob(
        message_id=message_id, emit=lambda: {"id": message_id, "status": status}, build=build
    )


def posted_statuses(transport: RecordingTransport) -> list[list[tuple[str, str]]]:
    return [
        [
            (status["id"], status["status"])
            for status in orjson.loads(request.content)["entry"][0]["changes"][0]["value"][
                "statuses"
            ]
        ]
        for request in transport.requests
    ]


def test_a_later_status_waits_while_the_earlier_one_is_retried() -> None:
    # given: the first POST fails and is retried after 0.2 s
    transport = RecordingTransport([500])
    settings = DeliverySettings(webhook_retry_base_seconds=0.2)
    dispatcher = WebhookDispatcher(lambda: settings, senders=4, transport=transport)
    try:
        # when: "delivered" is due while "sent" waits for its retry
        dispatcher.schedule(0.0, status_job("wamid.A", "sent"))
        dispatcher.schedule(0.05, status_job("wamid.A", "delivered"))
        dispatcher.schedule(0.05, status_job("wamid.B", "sent"))
        # then: B is not held up, A's statuses keep their order
        assert dispatcher.flush(5)
        assert posted_statuses(transport) == [
            [("wamid.A", "sent")],
            [("wamid.B", "sent")],
            [("wamid.A", "sent")],
            [("wamid.A", "delivered")],
        ]
        assert dispatcher.stats()["delivered"] == 3
    finally:
        dispatcher.close()


def inbound_payload(wamid: str, sender: str) -> WebhookPayload:
    message = webhooks.inbound_message(
        wamid=wamid,
        wa_id=sender,
        timestamp=1_700_000_000,
        message_type="text",
        content={"body": wamid},
    )
    envelope = webhooks.envelope(
        waba_id="200000000000001",
        display_phone_number="4929321000000",
        phone_number_id="100000000000001",
        value={"messages": [message]},
    )
    return webhooks.build_payload(
        "secret", envelope, kind="message", reference=wamid, sender=sender
    )


def posted_inbound(transport: RecordingTransport) -> list[str]:
    return [
        orjson.loads(request.content)["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        for request in transport.requests
    ]


def test_a_phones_messages_arrive_in_the_order_it_sent_them() -> None:
    # given: the first POST of Anna's two messages fails and is retried after 0.2 s
    transport = RecordingTransport([500])
    settings = DeliverySettings(webhook_retry_base_seconds=0.2)
    dispatcher = WebhookDispatcher(lambda: settings, senders=4, transport=transport)
    try:
        # when: Anna reacts and changes her reaction at once, and Ben writes meanwhile
        dispatcher.submit(inbound_payload("wamid.anna-1", "4915100000001"))
        dispatcher.submit(inbound_payload("wamid.anna-2", "4915100000001"))
        dispatcher.submit(inbound_payload("wamid.ben-1", "4915100000002"))
        # then: Ben is not held up; Anna's second message waits for her first one
        assert dispatcher.flush(5)
        assert posted_inbound(transport) == [
            "wamid.anna-1",
            "wamid.ben-1",
            "wamid.anna-1",
            "wamid.anna-2",
        ]
    finally:
        dispatcher.close()


def test_due_statuses_share_webhooks_when_configured(transport: RecordingTransport) -> None:
    # given
    settings = DeliverySettings(statuses_per_webhook=2)
    dispatcher = WebhookDispatcher(lambda: settings, senders=2, transport=transport)
    try:
        # when
        for message_id in ("wamid.A", "wamid.B", "wamid.C"):
            dispatcher.schedule(0.05, status_job(message_id, "sent"))
        # then
        assert dispatcher.flush(5)
        assert sorted(posted_statuses(transport)) == [
            [("wamid.A", "sent"), ("wamid.B", "sent")],
            [("wamid.C", "sent")],
        ]
        stats = dispatcher.stats()
        assert (stats["delivered"], stats["delivered_items"], stats["pending"]) == (2, 3, 0)
    finally:
        dispatcher.close()


def test_keep_alive_connections_post_signed_bodies_to_a_real_server() -> None:
    # given: the simulator's own HTTP client against a threaded stdlib server
    receiver = WebhookReceiver(app_secret="secret").start()
    settings = DeliverySettings(webhook_url=receiver.url)
    dispatcher = WebhookDispatcher(lambda: settings, senders=3)
    try:
        receiver.fail_next(2)
        # when
        for index in range(30):
            dispatcher.submit(make_payload(f"wamid.{index}"))
        # then: every body arrives once with a valid signature, two after a retry
        assert dispatcher.flush(10)
        accepted = receiver.accepted()
        assert len(accepted) == 30
        assert all(webhook.is_signature_valid for webhook in accepted)
        assert {webhook.statuses()[0]["id"] for webhook in accepted} == {
            f"wamid.{index}" for index in range(30)
        }
        stats = dispatcher.stats()
        assert (stats["delivered"], stats["failed_attempts"], stats["dropped"]) == (30, 2, 0)
    finally:
        dispatcher.close()
        receiver.stop()
