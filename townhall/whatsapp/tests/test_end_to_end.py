"""End to end over loopback HTTP: simulator -> signed webhook -> Townhall -> worker -> Cloud API
(simulator) -> status webhooks -> message log. Real processes, no mocks."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from townhall.core import clock
from townhall.simulator.testing import local_http
from townhall.whatsapp import outbound
from townhall.whatsapp.actions import do_queue_message
from townhall.whatsapp.models import Message, MessageStatusEvent, WebhookEvent
from townhall.whatsapp.policy import Purpose
from townhall.whatsapp.queries import message_log_for

pytestmark = pytest.mark.e2e

WA_ID = "4915112345601"
# Ten seconds before midnight on New Year's Eve, a year ahead: far from any real run's date.
NEW_YEARS_EVE = datetime(2027, 12, 31, 23, 59, 50, tzinfo=timezone(timedelta(hours=1)))


def citizen_sends(stack, text: str, name: str = "Anna Becker") -> str:
    response = local_http.post(
        f"{stack.simulator_url}/_sim/citizens/{WA_ID}/send",
        json={"type": "text", "text": text, "name": name},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["message_id"]


def phone_thread(stack) -> list[dict]:
    response = local_http.get(f"{stack.simulator_url}/_sim/citizens/{WA_ID}/messages", timeout=10)
    response.raise_for_status()
    return response.json()["messages"]


def test_hallo_round_trip_with_statuses(live_stack, wait):
    # given: a citizen writes "Hallo" on their phone
    inbound_id = citizen_sends(live_stack, "Hallo")

    # then: Townhall stores it exactly once and the worker hands it to the business handlers
    inbound = wait(
        lambda: Message.objects.filter(provider_id=inbound_id, handled_at__isnull=False).first(),
        what="inbound message stored and handled",
    )
    assert inbound.direction == Message.Direction.INBOUND
    assert inbound.text == "Hallo"
    assert inbound.profile_name == "Anna Becker"

    # and: the bot answers a stranger's "Hallo" with a short hint, never silence
    hint = wait(
        lambda: Message.objects.filter(wa_id=WA_ID, direction="out").first(),
        what="the bot's hint",
    )
    assert hint.type == "interactive"

    # when: our code replies through the sending layer
    reply = do_queue_message(
        WA_ID,
        outbound.Text("Guten Tag! Hier ist das Bürgermeisterbüro."),
        purpose=Purpose.SERVICE_REPLY,
    )

    # then: the phone shows it and reports sent -> delivered -> read back to Townhall
    def reply_read():
        reply.refresh_from_db()
        return reply.status == Message.Status.READ

    wait(reply_read, timeout=20, what="reply read")
    assert reply.provider_id.startswith("wamid.")
    on_phone = [m for m in phone_thread(live_stack) if m["id"] == reply.provider_id]
    assert len(on_phone) == 1
    assert on_phone[0]["text"] == "Guten Tag! Hier ist das Bürgermeisterbüro."
    statuses = set(
        MessageStatusEvent.objects.filter(provider_message_id=reply.provider_id).values_list(
            "status", flat=True
        )
    )
    assert statuses == {"sent", "delivered", "read"}

    # and: the message log shows the whole history of this citizen, in order
    log = message_log_for(WA_ID)
    assert [(entry.message.direction, entry.message.type) for entry in log] == [
        ("in", "text"),
        ("out", "interactive"),
        ("out", "text"),
    ]
    assert log[0].message.text == "Hallo"
    assert log[2].message.text == "Guten Tag! Hier ist das Bürgermeisterbüro."
    assert [event.status for event in log[2].status_history] == ["sent", "delivered", "read"]


def test_redelivered_webhook_creates_one_row(live_stack, wait):
    inbound_id = citizen_sends(live_stack, "Wann ist die Sperrmüllabholung?")
    wait(lambda: Message.objects.filter(provider_id=inbound_id).exists(), what="first delivery")

    response = local_http.post(
        f"{live_stack.simulator_url}/_sim/webhooks/redeliver",
        json={"message_id": inbound_id, "times": 10},
        timeout=10,
    )
    response.raise_for_status()
    local_http.post(f"{live_stack.simulator_url}/_sim/flush", json={"timeout": 10}, timeout=15)

    assert Message.objects.filter(provider_id=inbound_id).count() == 1
    # The bot's answer brings its own status webhooks; the redelivered one is stored once.
    assert WebhookEvent.objects.filter(body__contains=inbound_id).count() == 1


@pytest.fixture
def on_new_years_eve(time_machine):
    """The test's clock stands at ``NEW_YEARS_EVE`` (ticking) before the stack starts."""
    time_machine.move_to(NEW_YEARS_EVE, tick=True)


def test_the_processes_follow_the_test_clock(on_new_years_eve, live_stack, wait):
    # given: the web server, worker and simulator were started under the travelled clock
    # when: a citizen writes, the bot answers and the phone reports the answer read
    inbound_id = citizen_sends(live_stack, "Hallo")
    inbound = wait(
        lambda: Message.objects.filter(provider_id=inbound_id, handled_at__isnull=False).first(),
        what="inbound message stored and handled",
    )
    hint = wait(
        lambda: Message.objects.filter(wa_id=WA_ID, direction="out", status="read").first(),
        timeout=20,
        what="the bot's hint read on the phone",
    )
    finished = clock.now()

    # then: every time the processes wrote lies between the travelled start and now, on the
    # test's clock (today's real date would be a year or more before it)
    def on_test_clock(value: datetime) -> bool:
        return NEW_YEARS_EVE - timedelta(seconds=1) <= value <= finished + timedelta(seconds=1)

    assert finished - NEW_YEARS_EVE < timedelta(minutes=1)
    event = WebhookEvent.objects.get(body__contains=inbound_id)
    written = {
        "webhook received (web server)": event.received_at,
        "message written (simulator's timestamp)": inbound.created_at,
        "message handled (worker)": inbound.handled_at,
        "answer queued (worker)": hint.created_at,
        "answer read (status time in the worker)": hint.status_updated_at,
    }
    for status_event in MessageStatusEvent.objects.filter(provider_message_id=hint.provider_id):
        written[f"{status_event.status} (simulator)"] = status_event.occurred_at
        written[f"{status_event.status} received (web server)"] = status_event.received_at
    on_phone = {message["id"]: message for message in phone_thread(live_stack)}
    written["written on the phone (simulator)"] = _from_unix(on_phone[inbound_id]["timestamp"])
    for status in on_phone[hint.provider_id]["statuses"]:
        written[f"{status['status']} on the phone (simulator)"] = _from_unix(status["timestamp"])
    assert {"sent (simulator)", "delivered (simulator)", "read (simulator)"} <= set(written)
    assert {name: value for name, value in written.items() if not on_test_clock(value)} == {}


def _from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)
