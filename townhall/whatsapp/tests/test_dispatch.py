"""The batched dispatcher: priorities, consent per batch, the shared rate limit, no double
sends between dispatchers. The Cloud API is faked at its HTTP boundary."""

from __future__ import annotations

import bisect
import os
import threading
import time
from datetime import UTC, datetime

import pytest
import redis
from django.db import OperationalError, connection, connections
from django.test.utils import CaptureQueriesContext

from townhall.citizens.models import Citizen, Offering, Subscription
from townhall.whatsapp import actions, outbound, rate_limit
from townhall.whatsapp.actions import (
    do_dispatch,
    do_dispatch_batch,
    do_queue_message,
    do_queue_messages,
)
from townhall.whatsapp.models import Message
from townhall.whatsapp.policy import Purpose
from townhall.whatsapp.rate_limit import (
    Grant,
    LocalRateLimiter,
    RedisRateLimiter,
    clear_limiters,
    get_limiter,
)

TEMPLATE = outbound.Template("hello_world", "en_US")


def subscribers(count: int, prefix: str = "49152") -> list[str]:
    wa_ids = [f"{prefix}{index:08d}" for index in range(count)]
    Citizen.objects.bulk_create([Citizen(wa_id=wa_id) for wa_id in wa_ids])
    Subscription.objects.bulk_create(
        [
            Subscription(citizen=citizen, offering=Offering.INFO, state=Subscription.State.ACTIVE)
            for citizen in Citizen.objects.filter(wa_id__in=wa_ids)
        ]
    )
    return wa_ids


def chat_subscriber(wa_id: str) -> str:
    citizen = Citizen.objects.create(wa_id=wa_id)
    Subscription.objects.create(
        citizen=citizen, offering=Offering.CHAT, state=Subscription.State.ACTIVE
    )
    return wa_id


@pytest.mark.django_db
def test_broadcast_is_stored_in_bulk_and_refuses_who_has_not_subscribed(fake_cloud_api):
    wa_ids = subscribers(30)

    batch = do_queue_messages([*wa_ids, "4915999999999"], TEMPLATE, purpose=Purpose.INFO)

    assert batch.queued == 30
    assert batch.refused == {"unknown citizen": 1}
    assert Message.objects.filter(status="queued", priority=Message.Priority.BULK).count() == 30
    assert fake_cloud_api.requests == []


@pytest.mark.django_db
def test_reply_and_urgent_alert_overtake_a_running_broadcast(fake_cloud_api):
    do_queue_messages(subscribers(50), TEMPLATE, purpose=Purpose.INFO)
    do_dispatch_batch(limit=10)
    urgent = do_queue_message(
        "4915200000045", TEMPLATE, purpose=Purpose.INFO, priority=Message.Priority.URGENT
    )
    reply = do_queue_message(
        chat_subscriber("4917000000001"), outbound.Text("Danke!"), purpose=Purpose.CHAT
    )

    do_dispatch_batch(limit=2)

    assert [body["to"] for body in fake_cloud_api.sent_bodies[10:]] == [
        reply.wa_id,
        urgent.wa_id,
    ]


@pytest.mark.django_db
def test_a_batch_costs_the_same_queries_for_ten_or_a_hundred_messages(fake_cloud_api):
    do_queue_messages(subscribers(110), TEMPLATE, purpose=Purpose.INFO)

    with CaptureQueriesContext(connection) as ten:
        assert do_dispatch_batch(limit=10).accepted == 10
    with CaptureQueriesContext(connection) as hundred:
        assert do_dispatch_batch(limit=100).accepted == 100

    # claim (select + update), consent (citizens + subscriptions), bulk update, early
    # statuses, and the savepoints around them: the same for any batch size
    assert len(ten.captured_queries) == len(hundred.captured_queries) <= 12
    assert len(fake_cloud_api.requests) == 110


@pytest.mark.django_db
def test_a_130429_is_sent_again_in_its_batch_after_a_pause_that_doubles(fake_cloud_api, settings):
    settings.WHATSAPP = {**settings.WHATSAPP, "THROUGHPUT_BACKOFF_SECONDS": 0.1}
    wa_ids = subscribers(4)
    do_queue_messages(wa_ids, TEMPLATE, purpose=Purpose.INFO)
    # Meta refuses the first request twice in a row: it never reached the citizen.
    fake_cloud_api.fail_next(130429)
    started = time.monotonic()

    report = do_dispatch_batch()

    waited = time.monotonic() - started
    sent_to = [body["to"] for body in fake_cloud_api.sent_bodies]
    # Refused in the first part, first in line again: everyone once, in the end.
    assert sent_to == [*wa_ids, wa_ids[0]]
    assert report.accepted == 4
    rows = Message.objects.order_by("wa_id")
    assert [row.status for row in rows] == [Message.Status.ACCEPTED] * 4
    # Not counted as an attempt and without the seconds of a retry's backoff.
    assert [row.attempts for row in rows] == [1] * 4
    assert waited >= 0.1

    fake_cloud_api.requests.clear()
    Message.objects.all().delete()
    do_queue_messages(wa_ids[:1], TEMPLATE, purpose=Purpose.INFO)
    for _ in range(2):
        fake_cloud_api.fail_next(130429)
    started = time.monotonic()
    do_dispatch_batch()
    # 0.1 s after the first refusal, 0.2 s after the second.
    assert time.monotonic() - started >= 0.3
    assert Message.objects.get().status == Message.Status.ACCEPTED
    assert len(fake_cloud_api.requests) == 3


@pytest.mark.django_db
def test_a_lasting_130429_gives_the_batch_back_to_the_retry_path(fake_cloud_api):
    wa_ids = subscribers(2)
    do_queue_messages(wa_ids, TEMPLATE, purpose=Purpose.INFO)
    for _ in range(2 * (actions.THROUGHPUT_REBOOKINGS + 1)):
        fake_cloud_api.fail_next(130429)

    report = do_dispatch_batch()

    assert report.accepted == 0
    assert len(fake_cloud_api.requests) == 2 * (actions.THROUGHPUT_REBOOKINGS + 1)
    rows = list(Message.objects.all())
    assert {(row.status, row.error_code, row.attempts) for row in rows} == {
        (Message.Status.QUEUED, 130429, 1)
    }
    assert all(row.next_attempt_at is not None for row in rows)


class RedisGoesAway(LocalRateLimiter):
    """The shared schedule answers ``bookings_before_outage`` times, then Redis is out of
    reach (restarting) until the test sets it to None."""

    bookings_before_outage: int | None = 1

    def take(self, wanted: int) -> Grant:
        if self.bookings_before_outage is not None:
            if self.bookings_before_outage == 0:
                raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")
            self.bookings_before_outage -= 1
        return super().take(wanted)


@pytest.mark.django_db
def test_a_limiter_failing_mid_batch_keeps_what_left_and_gives_back_the_rest(
    fake_cloud_api, monkeypatch
):
    wa_ids = subscribers(10)
    do_queue_messages(wa_ids, TEMPLATE, purpose=Purpose.INFO)
    # 100/s booked 40 ms ahead: the first booking holds 4 of the 10.
    limiter = RedisGoesAway(rate=100, pair_burst=5, pair_interval=6, horizon=0.04)
    monkeypatch.setattr(actions, "get_limiter", lambda: limiter)

    with pytest.raises(redis.ConnectionError):
        do_dispatch_batch()

    sent = [body["to"] for body in fake_cloud_api.sent_bodies]
    assert len(sent) == 4
    status_of = dict(Message.objects.values_list("wa_id", "status"))
    # What reached Meta is known as sent (never sent again), the rest waits in the queue.
    assert {status_of[wa_id] for wa_id in sent} == {Message.Status.ACCEPTED}
    assert {status_of[wa_id] for wa_id in wa_ids if wa_id not in sent} == {Message.Status.QUEUED}

    limiter.bookings_before_outage = None  # Redis is back: the task's retry sends the rest
    do_dispatch_batch()
    assert sorted(body["to"] for body in fake_cloud_api.sent_bodies) == wa_ids


@pytest.mark.django_db
def test_every_retry_of_a_batch_has_a_dispatcher_when_it_is_due(fake_cloud_api):
    from huey.contrib.djhuey import HUEY

    do_queue_messages(subscribers(3), TEMPLATE, purpose=Purpose.INFO)
    for _ in range(3):
        fake_cloud_api.fail_next(131000)  # temporary: each is retried after its own jitter
    scheduled_before = {task.id for task in HUEY.scheduled()}

    do_dispatch_batch()

    retries = sorted(Message.objects.values_list("next_attempt_at", flat=True))
    assert len(set(retries)) == 3
    etas = sorted(
        task.eta
        for task in HUEY.scheduled()
        if task.id not in scheduled_before and task.name.endswith("dispatch_messages")
    )
    # One dispatcher when the first retry is due and one when the last is (the clocks of
    # Huey and of the rows differ in tests, their spans do not).
    assert len(etas) == 2
    assert (etas[1] - etas[0]).total_seconds() == pytest.approx(
        (retries[-1] - retries[0]).total_seconds(), abs=0.5
    )


@pytest.mark.django_db
def test_stop_between_queueing_and_sending_cancels_only_that_citizen(fake_cloud_api):
    wa_ids = subscribers(5)
    do_queue_messages(wa_ids, TEMPLATE, purpose=Purpose.INFO)
    Subscription.objects.filter(citizen__wa_id=wa_ids[2]).update(state=Subscription.State.ENDED)

    do_dispatch_batch()

    cancelled = Message.objects.get(wa_id=wa_ids[2])
    assert cancelled.status == Message.Status.CANCELLED
    assert cancelled.error_title == "Not sent: no active consent for the info offering"
    assert sorted(body["to"] for body in fake_cloud_api.sent_bodies) == sorted(
        wa_ids[:2] + wa_ids[3:]
    )


@pytest.mark.django_db
def test_pair_limit_holds_a_citizens_next_message_instead_of_a_131056(fake_cloud_api, settings):
    settings.WHATSAPP = {**settings.WHATSAPP, "PAIR_LIMIT_BURST": 1}
    wa_id = chat_subscriber("4917000000002")
    first = do_queue_message(wa_id, outbound.Text("Eins"), purpose=Purpose.CHAT)
    second = do_queue_message(wa_id, outbound.Text("Zwei"), purpose=Purpose.CHAT)

    do_dispatch_batch()
    do_dispatch_batch()

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Message.Status.ACCEPTED
    assert second.status == Message.Status.QUEUED
    assert second.next_attempt_at is not None
    assert 4 < (second.next_attempt_at - first.status_updated_at).total_seconds() <= 6.5
    assert len(fake_cloud_api.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_never_send_one_message_twice(fake_cloud_api, settings):
    wa_ids = subscribers(400)
    do_queue_messages(wa_ids, TEMPLATE, purpose=Purpose.INFO)
    settings.WHATSAPP = {**settings.WHATSAPP, "SEND_BATCH_SIZE": 25}
    errors: list[BaseException] = []

    def dispatcher() -> None:
        try:
            do_dispatch(seconds=30)
        except BaseException as error:  # reported below, with the test's failure
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    sent_to = [body["to"] for body in fake_cloud_api.sent_bodies]
    assert len(sent_to) == 400
    assert sorted(sent_to) == sorted(wa_ids)
    assert Message.objects.filter(status=Message.Status.ACCEPTED).count() == 400


def test_local_rate_limiter_books_evenly_spaced_slots_and_pauses():
    limiter = LocalRateLimiter(rate=50, pair_burst=2, pair_interval=6, horizon=1.0)

    first = limiter.take(80)
    # one second ahead at 50/s: 50 slots, 20 ms apart, the first one now
    assert (first.granted, first.spacing) == (50, 0.02)
    assert first.delay < 0.01
    # the next part is worth waiting for: half the horizon, not one slot
    assert 0.45 < first.retry_after <= 0.5
    assert limiter.take(10).granted == 0
    limiter.pause(5)
    paused = limiter.take(1)
    assert paused.granted == 0 and 4.9 < paused.retry_after <= 5
    assert limiter.take_pairs(["4915", "4915", "4915", "4916"])[:2] == [0.0, 0.0]
    assert limiter.take_pairs(["4915"])[0] > 5


def test_redis_rate_limiter_is_shared_by_all_its_users():
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    # A slow rate (1 slot/s) keeps the arithmetic exact on a busy machine.
    options = {"rate": 1, "horizon": 50, "pair_burst": 2, "pair_interval": 6}
    key = f"townhall:test-limiter:{os.getpid()}"
    first = RedisRateLimiter(url, key=key, **options)
    second = RedisRateLimiter(url, key=key, **options)
    first._redis.delete(key, f"{key}:pair:4915")
    try:
        assert first.take(30).granted == 30
        # Another worker (or machine) books from the same schedule: after the first 30.
        booked = second.take(30)
        assert booked.granted == 20 and 29 < booked.delay <= 30 and booked.spacing == 1
        # The slot is the schedule's own time, whenever the reply was read: its wall-clock
        # time is where the schedule's next free slot was before these 20.
        schedule_end = float(first._redis.hget(key, "tat"))
        seconds, microseconds = first._redis.time()
        assert abs(seconds + microseconds / 1e6 + booked.delay - (schedule_end - 20)) < 0.05
        assert first.take(10).granted == 0
        first.pause(3)
        paused = second.take(1)
        assert paused.granted == 0 and 2.5 < paused.retry_after <= 3
        assert first.take_pairs(["4915", "4915"]) == [0.0, 0.0]
        assert second.take_pairs(["4915"])[0] > 5
    finally:
        first._redis.delete(key, f"{key}:pair:4915")


def test_no_rolling_second_of_the_booked_slots_holds_more_than_the_tier(settings):
    # Meta counts sends in a rolling second (the simulator answers 130429 above the tier,
    # like Meta). Four dispatchers book as they do in a broadcast, for two seconds.
    settings.WHATSAPP = {**settings.WHATSAPP, "SEND_RATE_PER_SECOND": 80}
    clear_limiters()
    limiter = get_limiter()
    slots: list[float] = []
    lock = threading.Lock()

    def dispatcher() -> None:
        started = time.monotonic()
        while time.monotonic() - started < 2.0:
            grant = limiter.take(10)
            now = time.monotonic()
            with lock:
                slots.extend(now + grant.delay + i * grant.spacing for i in range(grant.granted))
            time.sleep(grant.retry_after if grant.granted == 0 else 0.05)

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    slots.sort()
    busiest = max(bisect.bisect_left(slots, slot + 1.0) - index for index, slot in enumerate(slots))
    assert busiest <= 80
    # and the tier is used: 97.5 % of 80/s over the two seconds
    assert len(slots) >= 0.9 * 80 * 2


def test_redis_send_slots_do_not_follow_a_travelled_clock(time_machine):
    # Dates are the app's clock (tests travel it); send slots are Redis's real time.
    time_machine.move_to(datetime(2031, 3, 30, 2, 30, tzinfo=UTC))
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    key = f"townhall:test-limiter-travel:{os.getpid()}"
    limiter = RedisRateLimiter(url, key=key, rate=10, pair_burst=2, pair_interval=6)
    limiter._redis.delete(key)
    try:
        grant = limiter.take(5)
        assert grant.granted > 0 and abs(grant.delay) < 0.05
    finally:
        limiter._redis.delete(key)


def test_redis_send_slots_stay_on_time_after_the_clocks_were_stepped(monkeypatch, caplog):
    # given: a worker that has compared its clock with Redis's
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    key = f"townhall:test-limiter-step:{os.getpid()}"
    limiter = RedisRateLimiter(url, key=key, rate=10, pair_burst=2, pair_interval=6)
    limiter._redis.delete(key)
    try:
        assert abs(limiter.take(1).delay) < 0.05
        # when: the wall clock (Redis's) steps 6 s against the worker's monotonic clock, as
        # when the machine resumes from a snapshot, and the worker books again at once
        stepped = time.monotonic
        monkeypatch.setattr(rate_limit.time, "monotonic", lambda: stepped() - 6.0)
        limiter._redis.delete(key)
        grant = limiter.take(2)
        # then: the slots begin now, not 6 s late (the offset was checked a minute later)
        assert grant.granted == 2 and abs(grant.delay) < 0.05
        assert "whatsapp.clock_stepped" in caplog.text
    finally:
        limiter._redis.delete(key)


@pytest.mark.django_db(transaction=True)
def test_a_large_broadcast_starts_sending_before_the_rest_is_queued(fake_cloud_api, monkeypatch):
    monkeypatch.setattr(actions, "QUEUE_CHUNK", 4)
    wa_ids = subscribers(10)

    do_queue_messages(wa_ids, TEMPLATE, purpose=Purpose.INFO)

    rows = list(Message.objects.order_by("pk"))
    first_chunk, rest = rows[:4], rows[4:]
    # The first four were handed to the API before the fifth row was even stored.
    assert max(row.status_updated_at for row in first_chunk) < rest[0].created_at
    assert sorted(body["to"] for body in fake_cloud_api.sent_bodies) == sorted(wa_ids)
    assert {row.status for row in rows} == {"accepted"}


def test_a_write_that_lost_a_deadlock_runs_again_and_a_lasting_failure_is_raised(caplog):
    # A dispatcher storing outcomes and an applier of statuses lock overlapping rows in
    # different orders; PostgreSQL fails one of them ("deadlock detected").
    calls: list[int] = []

    def loses_once() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("deadlock detected")

    actions._again_after_deadlock(loses_once, "whatsapp.store_outcomes")

    assert len(calls) == 2
    assert "whatsapp.store_outcomes_retry attempt=1 error=OperationalError" in caplog.text

    def always_loses() -> None:
        raise OperationalError("deadlock detected")

    with pytest.raises(OperationalError):
        actions._again_after_deadlock(always_loses, "whatsapp.store_outcomes")


@pytest.mark.django_db
def test_a_database_error_before_sending_puts_the_claimed_messages_back_in_the_queue(
    fake_cloud_api, monkeypatch
):
    # The database restarting between a dispatcher's claim and its consent check: the
    # claimed rows must not wait as "sending" until the sweeper gives up on them.
    wa_ids = subscribers(3)
    do_queue_messages(wa_ids, TEMPLATE, purpose=Purpose.INFO)
    real_refusals = actions.refusals

    def restarting(*args, **kwargs):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(actions, "refusals", restarting)
    with pytest.raises(OperationalError):
        do_dispatch_batch()

    assert set(Message.objects.values_list("status", flat=True)) == {"queued"}
    assert fake_cloud_api.requests == []

    # and the task's retry sends them, once each
    monkeypatch.setattr(actions, "refusals", real_refusals)
    assert do_dispatch_batch().accepted == 3
    assert sorted(body["to"] for body in fake_cloud_api.sent_bodies) == sorted(wa_ids)
