"""Fixtures of the simulator's tests: a fake clock and dispatcher for the engine, and a real
simulator process plus a stand-in webhook receiver for the end-to-end tests."""

from collections.abc import Iterator
from typing import Any

import pytest

from townhall.simulator.engine import Simulator, SimulatorConfig
from townhall.simulator.testing import SimulatorProcess, WebhookReceiver
from townhall.simulator.webhooks import Job, WebhookPayload

# Short delays keep end-to-end tests fast; the order of statuses stays realistic.
FAST_SETTINGS: dict[str, Any] = {
    "sent_delay_seconds": 0.02,
    "delivered_delay_seconds": 0.06,
    "read_delay_seconds": 0.12,
    "webhook_retry_base_seconds": 0.05,
}


class FakeClock:
    """A settable clock for the engine's rate and window rules."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeDispatcher:
    """Collects scheduled jobs and submitted payloads; runs jobs only when told to."""

    def __init__(self) -> None:
        self.scheduled: list[tuple[float, Job]] = []
        self.submitted: list[WebhookPayload] = []

    def schedule(self, delay: float, job: Job) -> None:
        self.scheduled.append((delay, job))

    def submit(self, payload: WebhookPayload, delay: float = 0.0) -> None:
        self.submitted.append(payload)

    def clear(self) -> int:
        dropped = len(self.scheduled)
        self.scheduled.clear()
        return dropped

    def flush(self, timeout: float) -> bool:
        self.run_scheduled()
        return True

    def stats(self) -> dict[str, Any]:
        return {"pending": len(self.scheduled)}

    def reset_stats(self) -> None:
        """Nothing to reset."""

    def run_scheduled(self) -> list[WebhookPayload]:
        """Run every scheduled job in due order; returns (and submits) what they produced."""
        jobs = sorted(self.scheduled, key=lambda item: item[0])
        self.scheduled.clear()
        produced = [payload for _, job in jobs if (payload := job()) is not None]
        self.submitted.extend(produced)
        return produced


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def dispatcher() -> FakeDispatcher:
    return FakeDispatcher()


@pytest.fixture
def config() -> SimulatorConfig:
    return SimulatorConfig()


@pytest.fixture
def simulator(config: SimulatorConfig, clock: FakeClock, dispatcher: FakeDispatcher) -> Simulator:
    return Simulator(config, clock=clock, dispatcher=dispatcher)


@pytest.fixture(scope="module")
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def simulator_process(webhook_receiver: WebhookReceiver) -> Iterator[SimulatorProcess]:
    process = SimulatorProcess(webhook_url=webhook_receiver.url, settings=FAST_SETTINGS).start()
    yield process
    process.stop()


@pytest.fixture
def running_simulator(
    simulator_process: SimulatorProcess, webhook_receiver: WebhookReceiver
) -> SimulatorProcess:
    """The module's simulator process with fresh state and an empty receiver."""
    # Drain first, so no webhook of an earlier test arrives during this one.
    simulator_process.control("POST", "/_sim/flush", {"timeout": 10})
    simulator_process.control("POST", "/_sim/reset", {"config": True})
    webhook_receiver.clear()
    return simulator_process
