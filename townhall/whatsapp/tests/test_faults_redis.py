"""Redis stopped under the running processes, and started again.

Documented behaviour (docs/security.md, "Faults"): webhooks are still stored and answered
200 (the body is durable in PostgreSQL; only the poke to the worker fails and is logged);
the worker logs "Error reading from queue" and waits with backoff, no crash loop; once Redis
is back, the next webhook's poke (or the minutely sweeper) processes everything that waited.

Redis is one of the test's own on a free port, so the machine's Redis stays untouched.
Only in the PostgreSQL + Redis pass.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from townhall.simulator.testing import local_http
from townhall.whatsapp.models import Message, WebhookEvent
from townhall.whatsapp.tests.test_faults import (
    OwnRedis,
    city_messages,
    free_port,
    pytestmark,  # noqa: F401 (the same markers: e2e, PostgreSQL + Redis pass only)
    sim,
    webhook_stats,
)


@pytest.fixture
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnRedis]:
    redis = OwnRedis(free_port(), tmp_path_factory.mktemp("redis"))
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture
def live_stack_env(own_redis: OwnRedis) -> dict[str, str]:
    return {"REDIS_URL": f"redis://127.0.0.1:{own_redis.port}/0"}


def write(stack, wa_id: str, text: str) -> str:
    return sim(stack, f"/_sim/citizens/{wa_id}/send", type="text", text=text)["message_id"]


def test_redis_stopped_and_started_again_loses_nothing(live_stack, own_redis, wait):
    anna, ben = "4915112340101", "4915112340102"
    write(live_stack, anna, "Start")
    wait(lambda: len(city_messages(live_stack, anna)) == 1, what="the welcome (Redis up)")

    # when: Redis stops and Anna writes
    own_redis.stop()
    wamid = write(live_stack, anna, "Hilfe")
    sim(live_stack, "/_sim/flush", timeout=20)

    # then: the webhook was stored and answered 200 at the first attempt
    stats = webhook_stats(live_stack)
    assert stats["failed_attempts"] == 0 and stats["dropped"] == 0
    stored = wait(lambda: WebhookEvent.objects.filter(body__contains=wamid).first(), what="stored")
    assert stored.state == WebhookEvent.State.PENDING
    # and: no process died (no crash loop), nothing was answered yet
    time.sleep(2)
    assert all(process.poll() is None for process in live_stack.processes)
    assert len(city_messages(live_stack, anna)) == 1
    worker_log = (Path(live_stack.log_dir) / "worker.log").read_text(errors="replace")
    assert "Error reading from queue" in worker_log

    # when: Redis is back (empty: nothing survived in it) and Ben writes
    own_redis.start()
    write(live_stack, ben, "Start")

    # then: both are answered, Anna's message that waited included
    wait(lambda: len(city_messages(live_stack, ben)) == 1, timeout=30, what="Ben welcomed")
    wait(lambda: len(city_messages(live_stack, anna)) == 2, timeout=30, what="Anna's help")
    assert "START" in city_messages(live_stack, anna)[-1]["text"]
    assert Message.objects.filter(provider_id=wamid, handled_at__isnull=False).exists()
    assert local_http.get(f"{live_stack.web_url}/buergerservice/", timeout=10).status_code == 200
