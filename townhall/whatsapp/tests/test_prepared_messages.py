"""Per-recipient bulk queueing, holding, releasing, cancelling and expiry in the engine."""

from __future__ import annotations

from datetime import timedelta

import pytest

from townhall.core import clock
from townhall.whatsapp import outbound
from townhall.whatsapp.actions import (
    EXPIRED_TITLE,
    PreparedMessage,
    do_cancel_unsent_messages,
    do_dispatch_batch,
    do_hold_messages,
    do_queue_prepared_messages,
    do_release_held_messages,
)
from townhall.whatsapp.models import Message
from townhall.whatsapp.policy import Purpose
from townhall.whatsapp.tests.test_dispatch import subscribers

pytestmark = pytest.mark.django_db


def test_each_recipient_gets_its_own_message_and_ids_come_back_in_order(fake_cloud_api):
    first, second = subscribers(2)
    hello, hallo = outbound.Text("Hello"), outbound.Text("Hallo")

    ids = do_queue_prepared_messages(
        [
            PreparedMessage(first, hello),
            PreparedMessage("4915999999999", hello),
            PreparedMessage(second, hallo),
        ],
        purpose=Purpose.INFO,
        priority=Message.Priority.URGENT,
    )

    assert ids[1] is None
    assert [Message.objects.get(pk=pk).text for pk in (ids[0], ids[2])] == ["Hello", "Hallo"]
    assert Message.objects.get(pk=ids[2]).wa_id == second
    assert set(Message.objects.values_list("priority", flat=True)) == {Message.Priority.URGENT}


def test_held_messages_wait_until_released_and_cancelled_ones_never_go(fake_cloud_api):
    wa_ids = subscribers(6)
    ids = do_queue_prepared_messages(
        [PreparedMessage(wa_id, outbound.Text("Info")) for wa_id in wa_ids], purpose=Purpose.INFO
    )

    assert do_hold_messages(ids[:4]) == 4
    do_dispatch_batch(limit=10)
    assert len(fake_cloud_api.requests) == 2

    assert do_cancel_unsent_messages(ids[2:4], "the post was cancelled") == 2
    assert do_release_held_messages(ids[:4]) == 2
    do_dispatch_batch(limit=10)
    assert len(fake_cloud_api.requests) == 4
    assert Message.objects.filter(status="cancelled").count() == 2


def test_a_message_past_its_expiry_is_cancelled_not_sent(fake_cloud_api, time_machine):
    wa_ids = subscribers(3)
    expires_at = clock.now() + timedelta(minutes=5)
    do_queue_prepared_messages(
        [PreparedMessage(wa_id, outbound.Text("Baustelle")) for wa_id in wa_ids],
        purpose=Purpose.INFO,
        expires_at=expires_at,
    )
    time_machine.move_to(expires_at + timedelta(seconds=1), tick=False)

    report = do_dispatch_batch(limit=10)

    assert (report.claimed, report.accepted) == (3, 0)
    assert fake_cloud_api.requests == []
    assert set(Message.objects.values_list("status", "error_title")) == {
        ("cancelled", EXPIRED_TITLE)
    }


def test_a_message_due_later_waits_for_its_time(fake_cloud_api, time_machine):
    (wa_id,) = subscribers(1)
    later = clock.now() + timedelta(hours=24)
    do_queue_prepared_messages(
        [PreparedMessage(wa_id, outbound.Text("Morgen"), not_before=later)], purpose=Purpose.INFO
    )
    assert do_dispatch_batch(limit=10).claimed == 0

    time_machine.move_to(later, tick=False)
    assert do_dispatch_batch(limit=10).accepted == 1
