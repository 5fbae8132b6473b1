"""Faults of the machine's services, with the real processes (simulator, web, worker).

PostgreSQL "restarts": every connection of the app to the test database is terminated
(``pg_terminate_backend``), which is what a restart of PostgreSQL does to the app, without
stopping the machine's PostgreSQL under other test runs; the test's own connection stays to
observe. Webhooks answered 5xx meanwhile are delivered again by the simulator (with backoff,
like Meta); nothing is lost, nothing is sent twice, the processes reconnect.

Redis stopped: a Redis of the test's own on another port, stopped and started again.

Only in the PostgreSQL + Redis pass (``./run.sh test`` runs it there).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from townhall.citizens.models import Citizen, Offering, Subscription
from townhall.simulator.testing import local_http
from townhall.whatsapp import outbound
from townhall.whatsapp.actions import do_queue_messages
from townhall.whatsapp.models import Message, WebhookEvent
from townhall.whatsapp.policy import Purpose

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
        or not settings.REDIS_URL,
        reason="fault tests run in the PostgreSQL + Redis pass",
    ),
]

BROADCAST = outbound.Template("info_kanal_meldung", "de", body_parameters=("Verkehr", "Sperrung"))


@pytest.fixture
def live_stack_env() -> dict[str, str]:
    return {
        # A send cut off by the database counts as unknown after 3 x 2 s and is sent again
        # only if no status webhook named it within 2 s more.
        "WHATSAPP_HTTP_TIMEOUT_SECONDS": "2",
        "WHATSAPP_SEND_RECONCILE_SECONDS": "2",
        "WHATSAPP_SEND_RATE_PER_SECOND": "60",
    }


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def terminate_app_connections(spared: int) -> int:
    """What a PostgreSQL restart does to the app: every session of the test database but
    the test's own (``spared`` and the caller's) is cut."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> %s",
            [spared],
        )
        return int(cursor.fetchone()[0])


class Restarts:
    """Cuts the app's database connections every ``interval`` seconds in a thread, ``times``
    times (or until the block ends)."""

    def __init__(self, interval: float, times: int = 1_000) -> None:
        self.interval = interval
        self.times = times
        self.spared = backend_pid()  # the test's own connection, which observes
        self.count = 0
        self.terminated = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from django.db import connections

        try:
            while self.count < self.times and not self._stop.wait(self.interval):
                self.terminated += terminate_app_connections(self.spared)
                self.count += 1
        finally:
            connections.close_all()

    def __enter__(self) -> Restarts:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def sim(stack, path: str, **json: object) -> dict:
    response = local_http.post(f"{stack.simulator_url}{path}", json=json, timeout=30)
    response.raise_for_status()
    return response.json()


def webhook_stats(stack) -> dict:
    return local_http.get(f"{stack.simulator_url}/_sim/stats", timeout=10).json()["webhooks"]


def city_messages(stack, wa_id: str) -> list[dict]:
    response = local_http.get(f"{stack.simulator_url}/_sim/citizens/{wa_id}/messages", timeout=10)
    if response.status_code == 404:
        return []
    return [m for m in response.json()["messages"] if m["direction"] == "out"]


def test_postgresql_restarts_during_webhook_intake_lose_nothing(
    live_stack, wait, expect_task_errors
):
    # Meta re-delivers with backoff; shortened so the test ends in seconds.
    sim(live_stack, "/_sim/config", webhook_retry_base_seconds=0.2, webhook_max_attempts=8)
    wa_ids = [f"4915200{index:06d}" for index in range(40)]

    # when: forty citizens write while the database restarts five times, 0.4 s apart
    with Restarts(interval=0.4, times=5) as restarts:
        for wa_id in wa_ids:
            sim(live_stack, f"/_sim/citizens/{wa_id}/send", type="text", text="Start")
            time.sleep(0.05)
        sim(live_stack, "/_sim/flush", timeout=25)
    assert restarts.count == 5 and restarts.terminated > 0

    # then: Meta (the simulator) had to deliver again, and every message arrived once
    stats = webhook_stats(live_stack)
    assert stats["failed_attempts"] > 0, "no webhook met a restart: the test tested nothing"
    assert stats["dropped"] == 0

    def everyone_answered() -> bool:
        return all(len(city_messages(live_stack, wa_id)) >= 1 for wa_id in wa_ids)

    wait(everyone_answered, timeout=60, interval=0.5, what="every citizen welcomed")
    inbound = Message.objects.filter(wa_id__in=wa_ids, direction="in")
    assert inbound.count() == 40
    assert inbound.values("provider_id").distinct().count() == 40
    assert not inbound.filter(handled_at__isnull=True).exists()
    assert Citizen.objects.filter(wa_id__in=wa_ids).count() == 40
    # nobody was welcomed twice (the bot ran once per message)
    assert [len(city_messages(live_stack, wa_id)) for wa_id in wa_ids] == [1] * 40
    # and the status webhooks of those welcomes, arriving now, are all processed too
    wait(
        lambda: not WebhookEvent.objects.filter(state=WebhookEvent.State.PENDING).exists(),
        timeout=30,
        interval=0.5,
        what="every stored webhook processed",
    )


def test_postgresql_restarts_during_sending_lose_and_duplicate_nobody(
    live_stack, wait, expect_task_errors, settings
):
    # The sweeper runs in this process: the same timeouts as the processes (live_stack_env).
    settings.WHATSAPP = {
        **settings.WHATSAPP,
        "HTTP_TIMEOUT_SECONDS": 2,
        "SEND_RECONCILE_SECONDS": 2,
    }
    wa_ids = [f"4917100{index:06d}" for index in range(300)]
    Citizen.objects.bulk_create([Citizen(wa_id=wa_id) for wa_id in wa_ids])
    Subscription.objects.bulk_create(
        Subscription(citizen_id=pk, offering=Offering.INFO, state=Subscription.State.ACTIVE)
        for pk in Citizen.objects.filter(wa_id__in=wa_ids).values_list("pk", flat=True)
    )
    sim(live_stack, "/_sim/config", webhook_retry_base_seconds=0.2, webhook_max_attempts=8)

    assert do_queue_messages(wa_ids, BROADCAST, purpose=Purpose.INFO).queued == 300
    wait(
        lambda: Message.objects.filter(wa_id__in=wa_ids, provider_id__isnull=False).count() >= 30,
        timeout=60,
        what="the broadcast under way",
    )

    # when: the database restarts four times, half a second apart, while it is sent
    with Restarts(interval=0.5, times=4) as restarts:
        time.sleep(2.5)
    assert restarts.count == 4
    assert Message.objects.filter(wa_id__in=wa_ids, status="queued").exists(), (
        "the broadcast ended before the restarts"
    )

    # then: everyone is handed over exactly once (the sweeper, periodic in production, runs
    # here as often as the test looks)
    from townhall.whatsapp.actions import do_requeue_stale_work

    def all_handed_over() -> bool:
        do_requeue_stale_work()
        open_rows = Message.objects.filter(
            wa_id__in=wa_ids, status__in=["queued", "sending", "unconfirmed"]
        )
        return not open_rows.exists()

    wait(all_handed_over, timeout=120, interval=1.0, what="every recipient handed over")
    sim(live_stack, "/_sim/flush", timeout=25)
    rows = Message.objects.filter(wa_id__in=wa_ids, direction="out")
    assert rows.count() == 300
    assert not rows.filter(status="failed").exists()
    assert sorted(len(city_messages(live_stack, wa_id)) for wa_id in wa_ids) == [1] * 300


# --- Redis --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OwnRedis:
    """A redis-server of the test's own (no persistence), stopped and started on one port."""

    def __init__(self, port: int, log_dir: Path) -> None:
        self.port = port
        self.log = log_dir / "redis.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed for the Redis fault test"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    redis = OwnRedis(free_port(), tmp_path)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture
def redis_stack_env(own_redis: OwnRedis, live_stack_env: dict[str, str]) -> dict[str, str]:
    return {**live_stack_env, "REDIS_URL": f"redis://127.0.0.1:{own_redis.port}/0"}
