"""A message whose handling keeps failing is parked, shown in the message log with its reason,
left alone by the sweeper, and handled again when a staff member retries it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from townhall.citizens.models import Citizen
from townhall.core import clock
from townhall.whatsapp.actions import do_requeue_stale_work
from townhall.whatsapp.models import Message
from townhall.whatsapp.tests.factories import make_citizen

WA_ID = "4917612345604"
OTHER_WA_ID = "4915112345601"
BROKEN_HANDLER = "townhall.staff.tests.test_inbound_retry.broken_handler"
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}
# Longer than the sweeper waits before it takes an unhandled message as lost.
SWEEPER_INTERVAL = timedelta(minutes=3)


class HandlerBroke(Exception):
    pass


def broken_handler(message: Any, stored: Message) -> None:
    """A handler with a bug: it fails for every message (its text is never shown)."""
    raise HandlerBroke(f"cannot handle {message.text}")


@pytest.fixture
def handlers_break(settings: Any) -> None:
    settings.WHATSAPP = {
        **settings.WHATSAPP,
        "INBOUND_HANDLERS": [*settings.WHATSAPP["INBOUND_HANDLERS"], BROKEN_HANDLER],
    }


@pytest.fixture
def parked_message(
    db: None,
    handlers_break: None,
    deliver_inbound: Any,
    expect_task_errors: Any,
    time_machine: Any,
    settings: Any,
) -> Message:
    """Klaus, known to the city, writes; every attempt to handle his message fails, also
    those the sweeper starts, until the attempts are used up."""
    time_machine.move_to(clock.now())
    make_citizen(WA_ID, "Klaus Becker", clock.now())
    deliver_inbound({"type": "text", "text": {"body": "Hallo Rathaus"}}, wa_id=WA_ID, name="Klaus")
    message = Message.objects.get(direction=Message.Direction.INBOUND)
    for _ in range(settings.WHATSAPP["INBOUND_MAX_ATTEMPTS"] - 1):
        assert message.status == Message.Status.RECEIVED
        time_machine.shift(SWEEPER_INTERVAL)
        assert do_requeue_stale_work()["inbound"] == 1
        message.refresh_from_db()
    return message


@pytest.mark.django_db
def test_after_the_last_attempt_the_message_is_parked_with_its_reason(
    parked_message: Message, expect_task_errors: Any, settings: Any
) -> None:
    assert parked_message.status == Message.Status.HANDLING_FAILED
    assert parked_message.attempts == settings.WHATSAPP["INBOUND_MAX_ATTEMPTS"] == 5
    assert parked_message.error_title == "Handling failed: HandlerBroke"
    assert parked_message.handled_at is None
    # the task raised while attempts remained (so Huey retries); the last one parks quietly
    assert [type(exc).__name__ for _, exc in expect_task_errors.errors] == [
        "InboundHandlingFailed"
    ] * 4


@pytest.mark.django_db
def test_the_sweeper_leaves_a_parked_message_alone(
    parked_message: Message, time_machine: Any
) -> None:
    time_machine.shift(SWEEPER_INTERVAL)

    counts = do_requeue_stale_work()

    assert counts["inbound"] == 0
    parked_message.refresh_from_db()
    assert parked_message.status == Message.Status.HANDLING_FAILED
    assert parked_message.attempts == 5


@pytest.mark.django_db
def test_the_message_log_shows_the_failure_and_a_retry_button(
    parked_message: Message, staff_client: Client
) -> None:
    citizen_page = reverse("staff:citizen_log", args=[_citizen_id()])
    retry_url = reverse("staff:retry_inbound_message", args=[_citizen_id(), parked_message.pk])

    english = staff_client.get(citizen_page, **ENGLISH).content.decode()
    german = staff_client.get(citizen_page).content.decode()

    assert 'data-testid="handling-failed"' in english
    assert "Handling failed</strong>" in english
    assert "· Handling failed: HandlerBroke" in english
    assert "5 attempts" in english
    assert f'action="{retry_url}"' in english
    assert ">Retry</button>" in english
    # the citizen's text is shown as the message, never as part of the reason
    assert english.count("Hallo Rathaus") == 1
    assert "Verarbeitung fehlgeschlagen</strong>" in german
    assert "5 Versuche" in german
    assert ">Erneut verarbeiten</button>" in german


@pytest.mark.django_db
def test_staff_retry_after_the_fix_handles_the_message_and_the_bot_answers(
    parked_message: Message,
    staff_client: Client,
    settings: Any,
    fake_cloud_api: Any,
    django_capture_on_commit_callbacks: Any,
    time_machine: Any,
) -> None:
    # given: the bug is fixed, a quarter of an hour after Klaus wrote
    settings.WHATSAPP = {
        **settings.WHATSAPP,
        "INBOUND_HANDLERS": [
            path for path in settings.WHATSAPP["INBOUND_HANDLERS"] if path != BROKEN_HANDLER
        ],
    }
    sent_before = len(fake_cloud_api.requests)
    retry_url = reverse("staff:retry_inbound_message", args=[_citizen_id(), parked_message.pk])

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(retry_url)

    # then
    assert response.status_code == 302
    assert response["Location"] == (
        reverse("staff:citizen_log", args=[_citizen_id()]) + f"#message-{parked_message.pk}"
    )
    parked_message.refresh_from_db()
    assert parked_message.status == Message.Status.RECEIVED
    assert parked_message.handled_at is not None
    # the bot answered Klaus (he has not subscribed: the short help), within the 24 hours
    [reply] = fake_cloud_api.sent_bodies[sent_before:]
    assert reply["to"] == WA_ID
    assert "WhatsApp-Service der Stadt Musterstadt" in reply["interactive"]["body"]["text"]
    page = staff_client.get(reverse("staff:citizen_log", args=[_citizen_id()])).content.decode()
    assert 'data-testid="handling-failed"' not in page


@pytest.mark.django_db
def test_retry_is_a_post_for_staff_only(parked_message: Message, client: Client) -> None:
    retry_url = reverse("staff:retry_inbound_message", args=[_citizen_id(), parked_message.pk])

    anonymous = client.post(retry_url)

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("staff:login"))
    parked_message.refresh_from_db()
    assert parked_message.status == Message.Status.HANDLING_FAILED


@pytest.mark.django_db
def test_retry_needs_post_and_the_citizens_own_message(
    parked_message: Message, staff_client: Client
) -> None:
    other = make_citizen(OTHER_WA_ID, "Anna Schneider", clock.now())
    retry_url = reverse("staff:retry_inbound_message", args=[_citizen_id(), parked_message.pk])

    get = staff_client.get(retry_url)
    wrong_citizen = staff_client.post(
        reverse("staff:retry_inbound_message", args=[other.pk, parked_message.pk])
    )

    assert get.status_code == 405
    assert wrong_citizen.status_code == 404
    parked_message.refresh_from_db()
    assert parked_message.status == Message.Status.HANDLING_FAILED
    assert parked_message.attempts == 5


def _citizen_id() -> int:
    return Citizen.objects.values_list("pk", flat=True).get(wa_id=WA_ID)
