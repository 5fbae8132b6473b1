"""``CloudAPIClient.send_many`` over real HTTP against the simulator process: the path every
broadcast takes (libcurl, many requests in flight), and what its failures mean for a retry."""

from __future__ import annotations

import dataclasses
import logging
import socket
import time
from collections.abc import Iterator

import pytest

from townhall.simulator.testing import SimulatorProcess, WebhookReceiver
from townhall.whatsapp.actions import _send_paced
from townhall.whatsapp.client import (
    LATE_SLOT_SECONDS,
    CloudAPIClient,
    SendRequest,
    SendResult,
)
from townhall.whatsapp.errors import CloudAPIError, OutcomeUnknown, SlotMissed, TransportError
from townhall.whatsapp.rate_limit import Grant, LocalRateLimiter

pytestmark = pytest.mark.e2e

PHONE_NUMBER_ID = "100000000000001"
TOKEN = "simulator-access-token"  # the simulator's public default


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorProcess]:
    with WebhookReceiver() as receiver:
        process = SimulatorProcess(
            webhook_url=receiver.url,
            settings={"throughput_per_second": 100_000, "status_sample_rate": 0.0},
        ).start()
        yield process
        process.stop()


def client_for(base_url: str, timeout_seconds: float = 10.0) -> CloudAPIClient:
    return CloudAPIClient(
        base_url=base_url,
        api_version="v21.0",
        phone_number_id=PHONE_NUMBER_ID,
        access_token=TOKEN,
        timeout_seconds=timeout_seconds,
    )


def text_to(wa_id: str, body: str) -> SendRequest:
    return SendRequest(to=wa_id, type_payload={"type": "text", "text": {"body": body}})


def thread_of(simulator: SimulatorProcess, wa_id: str) -> list[str]:
    response = simulator.client.get(f"/_sim/citizens/{wa_id}/messages")
    if response.status_code == 404:  # the simulator never heard of this number
        return []
    messages = response.json()["messages"]
    return [item["text"] for item in messages if item["direction"] == "out"]


def test_a_batch_of_three_hundred_arrives_once_each_with_outcomes_in_order(simulator):
    client = client_for(simulator.base_url)
    recipients = [f"4916000{index:06d}" for index in range(300)]
    try:
        outcomes = client.send_many([text_to(wa_id, f"Nr. {wa_id}") for wa_id in recipients])
    finally:
        client.close()

    assert all(isinstance(outcome, SendResult) for outcome in outcomes)
    assert [outcome.wa_id for outcome in outcomes if isinstance(outcome, SendResult)] == recipients
    assert (
        len({outcome.message_id for outcome in outcomes if isinstance(outcome, SendResult)}) == 300
    )
    for wa_id in (recipients[0], recipients[150], recipients[-1]):
        assert thread_of(simulator, wa_id) == [f"Nr. {wa_id}"]


def test_an_error_answer_is_typed_and_does_not_spoil_the_rest_of_the_batch(simulator):
    client = client_for(simulator.base_url)
    try:
        outcomes = client.send_many(
            [text_to("4916100000001", "gut"), text_to("keine-nummer", "schlecht")]
        )
    finally:
        client.close()

    assert isinstance(outcomes[0], SendResult)
    assert isinstance(outcomes[1], CloudAPIError)
    assert outcomes[1].code is not None  # Meta's error code, not a transport failure
    assert not isinstance(outcomes[1], OutcomeUnknown)


def test_a_server_that_takes_the_request_but_never_answers_makes_the_outcome_unknown():
    # The request was written: Meta may have the message, so it must not be sent again
    # blindly (its status webhook or the sweeper decides, see actions.py).
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel completes the handshake; nobody ever answers
        client = client_for(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout_seconds=0.5)
        try:
            outcomes = client.send_many([text_to("4916200000001", "hängt")])
        finally:
            client.close()

    assert isinstance(outcomes[0], OutcomeUnknown)


def test_a_refused_connection_never_left_us_and_may_be_retried():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound but not listening: the connect is refused
        client = client_for(f"http://127.0.0.1:{port}")
        try:
            outcomes = client.send_many([text_to("4916300000001", "nie raus")])
        finally:
            client.close()

    assert isinstance(outcomes[0], TransportError)
    assert not isinstance(outcomes[0], OutcomeUnknown)
    assert outcomes[0].is_retryable


def test_a_request_that_cannot_leave_near_its_send_slot_is_not_sent(simulator):
    # Sent late, it would bunch up with the requests booked after it: Meta counts a rolling
    # second, so the caller books it a new slot instead (see _send_paced).
    client = client_for(simulator.base_url)
    recipients = [f"4916400{index:06d}" for index in range(10)]
    try:
        outcomes = client.send_many(
            [text_to(wa_id, "Slot") for wa_id in recipients],
            # slots 0.45 s ago … 0.45 s ahead: the first five have passed by more than the
            # limit, the next is 50 ms ahead (time for the I/O loop to take the batch)
            first_at=time.monotonic() - 0.45,
            spacing=0.1,
            late_limit=LATE_SLOT_SECONDS,
        )
    finally:
        client.close()

    assert [type(outcome) for outcome in outcomes] == [SlotMissed] * 5 + [SendResult] * 5
    assert outcomes[0].is_retryable
    assert [len(thread_of(simulator, wa_id)) for wa_id in recipients] == [0] * 5 + [1] * 5


class SlowFirstBooking(LocalRateLimiter):
    """The first booking comes back 0.2 s after it was made (a busy machine, a slow Redis):
    most of its slots have passed."""

    def take(self, wanted: int) -> Grant:
        grant = super().take(wanted)
        if getattr(self, "was_slow", False):
            return grant
        self.was_slow = True
        return dataclasses.replace(grant, delay=grant.delay - 0.2)


@pytest.mark.django_db
def test_sends_that_missed_their_slots_get_new_ones_and_leave_once_each(
    simulator, settings, caplog
):
    settings.WHATSAPP = {**settings.WHATSAPP, "API_BASE_URL": simulator.base_url}
    limiter = SlowFirstBooking(rate=200, pair_burst=1, pair_interval=6)
    recipients = [f"4916500{index:06d}" for index in range(40)]

    with caplog.at_level(logging.INFO, logger="townhall.whatsapp.actions"):
        outcomes = _send_paced([text_to(wa_id, "Neu gebucht") for wa_id in recipients], limiter)

    assert "whatsapp.slots_missed" in caplog.text
    assert [outcome.wa_id for outcome in outcomes if isinstance(outcome, SendResult)] == recipients
    assert all(thread_of(simulator, wa_id) == ["Neu gebucht"] for wa_id in recipients)
