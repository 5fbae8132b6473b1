"""The sending layer: queue durably, send once, retry what is temporary, track statuses."""

import itertools
import time
from datetime import timedelta

import orjson
import pytest

from townhall.citizens.actions import do_subscribe_directly, do_withdraw_subscriptions
from townhall.citizens.models import Citizen, ConsentRecord, Offering
from townhall.core import clock
from townhall.whatsapp import actions, outbound, tasks
from townhall.whatsapp.actions import (
    do_process_pending_webhook_events,
    do_process_webhook_events,
    do_purge_processed_webhook_events,
    do_queue_message,
    do_record_webhook_event,
    do_requeue_stale_work,
    do_send_queued_message,
)
from townhall.whatsapp.errors import PairRateLimited
from townhall.whatsapp.models import Message, MessageStatusEvent, WebhookEvent
from townhall.whatsapp.policy import Purpose, SendRefused
from townhall.whatsapp.types import webhook_envelope

WA_ID = "4915112345678"


@pytest.fixture(autouse=True)
def chat_subscriber(db):
    """The recipient has consented to the chat, as the sending layer requires."""
    citizen = Citizen.objects.create(wa_id=WA_ID, profile_name="Anna Schmidt")
    do_subscribe_directly(citizen, [Offering.CHAT], channel=ConsentRecord.Channel.WHATSAPP_BUTTON)
    return citizen


@pytest.mark.django_db
def test_queued_message_is_sent_after_commit(fake_cloud_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = do_queue_message(
            WA_ID, outbound.Text("Ihre Anfrage ist eingegangen."), purpose=Purpose.CHAT
        )
        # Nothing leaves before the row is committed.
        assert fake_cloud_api.requests == []

    message.refresh_from_db()
    assert message.status == Message.Status.ACCEPTED
    assert message.provider_id == "wamid.fake-1"
    assert message.attempts == 1
    assert fake_cloud_api.sent_bodies == [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": WA_ID,
            "type": "text",
            "text": {"body": "Ihre Anfrage ist eingegangen.", "preview_url": False},
            # Meta returns it on the statuses: how an unanswered send is reconciled.
            "biz_opaque_callback_data": f"townhall:{message.pk}",
        }
    ]


@pytest.mark.django_db
def test_reply_keeps_context(fake_cloud_api):
    message = do_queue_message(
        WA_ID, outbound.Text("Danke!"), reply_to="wamid.citizen-9", purpose=Purpose.CHAT
    )

    do_send_queued_message(message.pk)

    assert fake_cloud_api.sent_bodies[0]["context"] == {"message_id": "wamid.citizen-9"}


@pytest.mark.django_db
def test_invalid_recipient_is_refused_and_nothing_stored():
    with pytest.raises(outbound.InvalidOutboundMessage):
        do_queue_message("not-a-number", outbound.Text("Hallo"), purpose=Purpose.CHAT)

    assert Message.objects.count() == 0


@pytest.mark.django_db
def test_a_message_is_sent_once_even_if_its_task_runs_twice(fake_cloud_api):
    message = do_queue_message(WA_ID, outbound.Text("Hallo"), purpose=Purpose.CHAT)

    do_send_queued_message(message.pk)
    do_send_queued_message(message.pk)

    assert len(fake_cloud_api.requests) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("code", [131056, 131000, 131016])
def test_temporary_errors_are_retried_with_backoff(fake_cloud_api, code, time_machine):
    time_machine.move_to(clock.now(), tick=False)
    message = do_queue_message(WA_ID, outbound.Text("Hallo"), purpose=Purpose.CHAT)
    fake_cloud_api.fail_next(code)

    retry_in = do_send_queued_message(message.pk)

    message.refresh_from_db()
    assert retry_in is not None and retry_in >= 2
    assert message.status == Message.Status.QUEUED
    assert message.attempts == 1
    assert message.error_code == code
    assert message.next_attempt_at == clock.now() + timedelta(seconds=retry_in)

    # Too early: the row waits for its time, nothing is sent.
    assert do_send_queued_message(message.pk) == pytest.approx(retry_in)
    assert len(fake_cloud_api.requests) == 1

    time_machine.move_to(message.next_attempt_at, tick=False)
    assert do_send_queued_message(message.pk) is None
    message.refresh_from_db()
    assert message.status == Message.Status.ACCEPTED
    assert message.attempts == 2
    assert message.error_code is None
    assert len(fake_cloud_api.requests) == 2


@pytest.mark.django_db
def test_pair_limit_backoff_holds_against_duplicate_tasks(fake_cloud_api, time_machine):
    """131056 five times, while the initial task, the sweeper and a hand-over each run the
    send task every second: every attempt waits for the row's next_attempt_at."""
    time_machine.move_to(clock.now(), tick=False)
    message = do_queue_message(WA_ID, outbound.Text("Hallo"), purpose=Purpose.CHAT)
    for _ in range(5):
        fake_cloud_api.fail_next(131056)
    attempts_at = []
    due_at = []

    for _second in range(300):
        before = len(fake_cloud_api.requests)
        for _duplicate in range(3):
            tasks.dispatch_messages()
        if len(fake_cloud_api.requests) > before:
            attempts_at.append(clock.now())
            message.refresh_from_db()
            due_at.append(message.next_attempt_at)
        if message.status == Message.Status.ACCEPTED:
            break
        time_machine.shift(1)

    message.refresh_from_db()
    assert message.status == Message.Status.ACCEPTED
    assert message.attempts == 6
    assert len(fake_cloud_api.requests) == 6
    # Each retry came no earlier than the time its failure set, and the waits grow.
    for attempt_at, previous_due in zip(attempts_at[1:], due_at[:-1], strict=True):
        assert previous_due is not None and attempt_at >= previous_due
    waits = [
        (later - earlier).total_seconds() for earlier, later in itertools.pairwise(attempts_at)
    ]
    # Full jitter: the n-th wait lies between the base (2 s) and base + base·2^(n-1), plus
    # the one-second steps of the travelled clock; the ceiling doubles each time.
    for attempt, wait in enumerate(waits, start=1):
        assert 2 <= wait <= 2 + 2 * 2 ** (attempt - 1) + 1


@pytest.mark.django_db
def test_pair_rate_limit_error_is_typed_on_the_message(fake_cloud_api, settings):
    settings.WHATSAPP = {**settings.WHATSAPP, "SEND_MAX_ATTEMPTS": 1}
    message = do_queue_message(WA_ID, outbound.Text("Hallo"), purpose=Purpose.CHAT)
    fake_cloud_api.fail_next(131056)

    do_send_queued_message(message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert isinstance(message.error, PairRateLimited)


@pytest.mark.django_db
@pytest.mark.parametrize("code", [131026, 100, 190, 132001])
def test_final_errors_fail_at_once(fake_cloud_api, code):
    message = do_queue_message(WA_ID, outbound.Text("Hallo"), purpose=Purpose.CHAT)
    fake_cloud_api.fail_next(code)

    assert do_send_queued_message(message.pk) is None

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.error_code == code
    assert message.attempts == 1
    assert len(fake_cloud_api.requests) == 1


@pytest.mark.django_db
def test_retries_stop_after_max_attempts(fake_cloud_api, settings, time_machine):
    time_machine.move_to(clock.now(), tick=False)
    settings.WHATSAPP = {**settings.WHATSAPP, "SEND_MAX_ATTEMPTS": 3}
    message = do_queue_message(WA_ID, outbound.Text("Hallo"), purpose=Purpose.CHAT)
    for _ in range(3):
        fake_cloud_api.fail_next(131000)

    results = []
    for _ in range(3):
        results.append(do_send_queued_message(message.pk))
        message.refresh_from_db()
        if message.next_attempt_at:
            time_machine.move_to(message.next_attempt_at, tick=False)

    message.refresh_from_db()
    assert [r is not None for r in results] == [True, True, False]
    assert message.status == Message.Status.FAILED
    assert message.attempts == 3
    assert len(fake_cloud_api.requests) == 3


@pytest.mark.django_db
def test_status_arriving_before_send_result_is_applied(fake_cloud_api):
    message = do_queue_message(WA_ID, outbound.Text("Hallo"), purpose=Purpose.CHAT)
    # The status webhook overtook the send task's write of the provider id.
    MessageStatusEvent.objects.create(
        provider_message_id="wamid.fake-1", status="delivered", occurred_at=clock.now()
    )

    do_send_queued_message(message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED


@pytest.mark.django_db
def test_a_failure_arriving_before_send_result_keeps_metas_error(fake_cloud_api):
    message = do_queue_message(WA_ID, outbound.Text("Hallo"), purpose=Purpose.CHAT)
    MessageStatusEvent.objects.create(
        provider_message_id="wamid.fake-1",
        status="failed",
        occurred_at=clock.now(),
        errors=[{"code": 131026, "title": "Message undeliverable"}],
    )

    do_send_queued_message(message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert (message.error_code, message.error_title) == (131026, "Message undeliverable")


def status_webhook(message_id: str, *statuses: str, callback_data: str = "") -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {},
        "statuses": [
            {
                "id": message_id,
                "status": status,
                "timestamp": str(int(clock.now().timestamp())),
                "recipient_id": WA_ID,
                **({"biz_opaque_callback_data": callback_data} if callback_data else {}),
            }
            for status in statuses
        ],
    }
    return orjson.dumps(webhook_envelope(value))


@pytest.mark.django_db
def test_statuses_that_overtake_the_send_answer_are_not_moved_back_by_it(fake_cloud_api):
    message = do_queue_message(WA_ID, outbound.Text("Hallo"), purpose=Purpose.CHAT)

    def statuses_come_first(message_id: str, body: dict) -> None:
        # Meta's "sent" and "delivered" are applied while our send still waits for its answer.
        do_record_webhook_event(
            status_webhook(
                message_id, "sent", "delivered", callback_data=body["biz_opaque_callback_data"]
            )
        )
        do_process_pending_webhook_events()
        overtaken = Message.objects.get(pk=message.pk)
        assert (overtaken.status, overtaken.provider_id) == (Message.Status.DELIVERED, message_id)

    fake_cloud_api.before_answer = statuses_come_first
    do_send_queued_message(message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert message.provider_id == "wamid.fake-1"
    assert message.attempts == 1
    assert len(fake_cloud_api.requests) == 1


@pytest.mark.django_db
def test_a_late_status_of_a_first_copy_leaves_the_resent_message_alone(fake_cloud_api, settings):
    # given: a send whose answer was lost, sent again after the reconcile window
    message = do_queue_message(WA_ID, outbound.Text("Hallo"), purpose=Purpose.CHAT)
    fake_cloud_api.time_out_next()
    do_send_queued_message(message.pk)
    later = clock.now() + timedelta(seconds=settings.WHATSAPP["SEND_RECONCILE_SECONDS"] + 1)
    assert do_requeue_stale_work(later)["resent"] == 1
    message.refresh_from_db()
    assert (message.status, message.provider_id) == (Message.Status.ACCEPTED, "wamid.fake-2")

    # when: the first copy's status arrives after all, naming the same row
    do_record_webhook_event(
        status_webhook("wamid.fake-1", "delivered", callback_data=f"townhall:{message.pk}")
    )
    do_process_pending_webhook_events()

    # then: the row keeps the copy it knows; the late status is in the history only
    message.refresh_from_db()
    assert (message.status, message.provider_id) == (Message.Status.ACCEPTED, "wamid.fake-2")
    assert MessageStatusEvent.objects.filter(provider_message_id="wamid.fake-1").exists()


@pytest.mark.django_db
def test_stale_work_is_requeued_and_sends_of_dead_workers_wait_for_reconciliation(
    fake_cloud_api, settings
):
    now = clock.now()
    lost = do_queue_message(WA_ID, outbound.Text("verloren"), purpose=Purpose.CHAT)
    Message.objects.filter(pk=lost.pk).update(status_updated_at=now - timedelta(minutes=5))
    stuck = do_queue_message(WA_ID, outbound.Text("hängt"), purpose=Purpose.CHAT)
    Message.objects.filter(pk=stuck.pk).update(
        status=Message.Status.SENDING, status_updated_at=now - timedelta(minutes=30)
    )

    counts = do_requeue_stale_work(now)

    assert counts["sends"] == 1
    assert counts["unconfirmed"] == 1
    lost.refresh_from_db()
    stuck.refresh_from_db()
    # Huey runs immediately in unit tests, so the re-queued send went out.
    assert lost.status == Message.Status.ACCEPTED
    # The worker died in the API call: Meta may have it, so it is not sent again yet.
    assert stuck.status == Message.Status.UNCONFIRMED
    assert [body["text"]["body"] for body in fake_cloud_api.sent_bodies] == ["verloren"]

    # No status named it within the reconcile window: Meta never had it, send it now.
    later = now + timedelta(seconds=settings.WHATSAPP["SEND_RECONCILE_SECONDS"] + 1)
    assert do_requeue_stale_work(later)["resent"] == 1
    stuck.refresh_from_db()
    assert stuck.status == Message.Status.ACCEPTED
    assert [body["text"]["body"] for body in fake_cloud_api.sent_bodies] == ["verloren", "hängt"]


@pytest.mark.django_db
def test_timed_out_send_is_reconciled_by_its_status_and_never_sent_twice(
    fake_cloud_api, settings, django_capture_on_commit_callbacks
):
    # given: Meta accepts the message, but its answer never reaches us
    message = do_queue_message(WA_ID, outbound.Text("Hallo"), purpose=Purpose.CHAT)
    fake_cloud_api.time_out_next()
    do_send_queued_message(message.pk)
    message.refresh_from_db()
    assert message.status == Message.Status.UNCONFIRMED
    assert message.provider_id is None

    # when: its "sent" status arrives, carrying our callback data
    status = {
        "id": "wamid.fake-1",
        "status": "sent",
        "timestamp": str(int(clock.now().timestamp())),
        "recipient_id": WA_ID,
        "biz_opaque_callback_data": f"townhall:{message.pk}",
    }
    value = {"messaging_product": "whatsapp", "metadata": {}, "statuses": [status]}
    with django_capture_on_commit_callbacks(execute=True):
        do_record_webhook_event(orjson.dumps(webhook_envelope(value)))

    # then: the row knows its Meta id and status, and the sweeper never sends it again
    message.refresh_from_db()
    assert message.provider_id == "wamid.fake-1"
    assert message.status == Message.Status.SENT
    later = clock.now() + timedelta(seconds=settings.WHATSAPP["SEND_RECONCILE_SECONDS"] + 60)
    assert do_requeue_stale_work(later)["resent"] == 0
    assert len(fake_cloud_api.requests) == 1


@pytest.mark.django_db
def test_a_poke_that_a_later_drain_served_costs_no_query(
    fake_cloud_api, django_assert_num_queries, monkeypatch
):
    # A drain was recorded under a clock that has since been set back (or a test travelled).
    monkeypatch.setattr(actions._drains, "caught_up_from", time.time() + 3600)
    message = do_queue_message(WA_ID, outbound.Text("Hallo"), purpose=Purpose.CHAT)
    do_send_queued_message(message.pk)
    # The web's poke waited in the task queue while every worker thread was dispatching.
    piled_up = time.time() - 1
    do_record_webhook_event(status_webhook("wamid.fake-1", "sent"))
    # A later poke's run drains everything and catches up.
    assert do_process_webhook_events(poked_at=time.time()) is False
    assert Message.objects.get(pk=message.pk).status == Message.Status.SENT

    with django_assert_num_queries(0):
        assert do_process_webhook_events(poked_at=piled_up) is False

    # A webhook stored after that drain began has a later poke, and it is processed.
    do_record_webhook_event(status_webhook("wamid.fake-1", "delivered"))
    do_process_webhook_events(poked_at=time.time())
    assert Message.objects.get(pk=message.pk).status == Message.Status.DELIVERED


@pytest.mark.django_db
def test_processed_webhook_bodies_are_purged_after_retention():
    now = clock.now()
    old = WebhookEvent.objects.create(
        body_sha256="a" * 64,
        body="{}",
        state=WebhookEvent.State.PROCESSED,
        received_at=now - timedelta(days=15),
    )
    recent = WebhookEvent.objects.create(
        body_sha256="b" * 64,
        body="{}",
        state=WebhookEvent.State.PROCESSED,
        received_at=now - timedelta(days=13),
    )
    rejected = WebhookEvent.objects.create(
        body_sha256="c" * 64,
        body="{",
        state=WebhookEvent.State.REJECTED,
        received_at=now - timedelta(days=30),
    )

    assert do_purge_processed_webhook_events(now) == 1

    remaining = set(WebhookEvent.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, rejected.pk}
    assert old.pk not in remaining


@pytest.mark.django_db
@pytest.mark.parametrize("purpose", [Purpose.INFO, Purpose.SERVICE_REPLY])
def test_send_without_consent_for_that_purpose_is_refused(fake_cloud_api, purpose):
    # given: the citizen consented to the chat only and never wrote to us

    # when / then
    with pytest.raises(SendRefused):
        do_queue_message(WA_ID, outbound.Text("Straßensperrung Hauptstraße"), purpose=purpose)
    assert Message.objects.count() == 0
    assert fake_cloud_api.requests == []


@pytest.mark.django_db
def test_send_to_unknown_number_is_refused(fake_cloud_api):
    with pytest.raises(SendRefused):
        do_queue_message("4917600000000", outbound.Text("Hallo"), purpose=Purpose.CHAT)

    assert Message.objects.count() == 0


@pytest.mark.django_db
def test_stop_between_queueing_and_sending_cancels_the_message(fake_cloud_api, chat_subscriber):
    message = do_queue_message(WA_ID, outbound.Text("Antwort"), purpose=Purpose.CHAT)
    do_withdraw_subscriptions(chat_subscriber, channel=ConsentRecord.Channel.WHATSAPP_KEYWORD)

    do_send_queued_message(message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.CANCELLED
    assert fake_cloud_api.requests == []


@pytest.mark.django_db
def test_messages_to_one_person_leave_in_queue_order(
    fake_cloud_api, django_capture_on_commit_callbacks
):
    first = do_queue_message(WA_ID, outbound.Text("Willkommen im Chat!"), purpose=Purpose.CHAT)
    second = do_queue_message(WA_ID, outbound.Text("Welche Themen?"), purpose=Purpose.CHAT)

    # The worker picks up the second task first: it waits instead of overtaking.
    assert do_send_queued_message(second.pk) is None
    assert fake_cloud_api.requests == []
    second.refresh_from_db()
    assert second.status == Message.Status.QUEUED

    with django_capture_on_commit_callbacks(execute=True):
        do_send_queued_message(first.pk)

    assert [body["text"]["body"] for body in fake_cloud_api.sent_bodies] == [
        "Willkommen im Chat!",
        "Welche Themen?",
    ]
    second.refresh_from_db()
    assert second.status == Message.Status.ACCEPTED


@pytest.mark.django_db
def test_a_failed_message_hands_over_to_the_next(
    fake_cloud_api, django_capture_on_commit_callbacks
):
    first = do_queue_message(WA_ID, outbound.Text("Eins"), purpose=Purpose.CHAT)
    second = do_queue_message(WA_ID, outbound.Text("Zwei"), purpose=Purpose.CHAT)
    do_send_queued_message(second.pk)
    fake_cloud_api.fail_next(131026)

    with django_capture_on_commit_callbacks(execute=True):
        do_send_queued_message(first.pk)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Message.Status.FAILED
    assert second.status == Message.Status.ACCEPTED


@pytest.mark.django_db
def test_a_long_stuck_message_does_not_hold_back_new_ones(fake_cloud_api):
    stuck = do_queue_message(WA_ID, outbound.Text("Alt"), purpose=Purpose.CHAT)
    Message.objects.filter(pk=stuck.pk).update(created_at=clock.now() - timedelta(hours=2))
    fresh = do_queue_message(WA_ID, outbound.Text("Neu"), purpose=Purpose.CHAT)

    do_send_queued_message(fresh.pk)

    fresh.refresh_from_db()
    assert fresh.status == Message.Status.ACCEPTED


@pytest.mark.django_db
def test_other_recipients_are_not_held_back(fake_cloud_api):
    other = Citizen.objects.create(wa_id="4915199999999", profile_name="Ben")
    do_subscribe_directly(other, [Offering.CHAT], channel=ConsentRecord.Channel.WHATSAPP_BUTTON)
    do_queue_message(WA_ID, outbound.Text("Für Anna"), purpose=Purpose.CHAT)
    for_ben = do_queue_message(other.wa_id, outbound.Text("Für Ben"), purpose=Purpose.CHAT)

    do_send_queued_message(for_ben.pk)

    for_ben.refresh_from_db()
    assert for_ben.status == Message.Status.ACCEPTED
