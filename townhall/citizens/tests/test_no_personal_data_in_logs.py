"""The whole citizen journey with every logger at DEBUG: no log line names the citizen's
phone number, profile name or any message text (logs use privacy.redact())."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine

from townhall.citizens.actions import do_erase_due_citizens
from townhall.citizens.models import Citizen
from townhall.citizens.tests.test_bot import button, row, text
from townhall.core import clock
from townhall.inbox.actions import do_reply
from townhall.inbox.models import Conversation
from townhall.inbox.tests.factories import make_staff, open_around_the_clock

WA_ID = "4915112398765"
NAME = "Roswitha Kaltenbrunner"
QUESTION = "Warum ist die Stadtbibliothek am Samstag geschlossen?"
STAFF_ANSWER = "Wegen einer Inventur, ab Montag wieder geöffnet."


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name} {text}")


@pytest.fixture
def all_logs_at_debug() -> Iterator[Collect]:
    """Every logger (ours, Django's, Huey's, httpx's) at DEBUG, each line collected, also
    from loggers that do not propagate to the root."""
    handler = Collect()
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if logger is logging.getLogger() or not logger.propagate:
            logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled
            logger.removeHandler(handler)


@pytest.mark.django_db
def test_whole_journey_logs_no_number_name_or_message_text(
    deliver_inbound, all_logs_at_debug, django_capture_on_commit_callbacks, fake_cloud_api
):
    open_around_the_clock()
    staff = make_staff()

    def write(message: dict) -> list[dict]:
        return deliver_inbound(message, wa_id=WA_ID, name=NAME)

    # Start, consent, topics
    write(text("Start"))
    write(button("offer:both"))
    write(button("consent:yes"))
    write(row("topic:verkehr"))
    write(row("topic:done"))
    # a chat message and the staff's answer (sent by the worker, statuses come back)
    write(text(QUESTION))
    conversation = Conversation.objects.get(citizen__wa_id=WA_ID)
    with django_capture_on_commit_callbacks(execute=True):
        do_reply(conversation, STAFF_ANSWER, acting_user=staff)
    assert fake_cloud_api.sent_bodies[-1]["text"]["body"].startswith(STAFF_ANSWER)
    # MEINE DATEN, STOP, LÖSCHEN (confirmed), and the erasure itself
    my_data = write(text("MEINE DATEN"))
    write(text("STOP"))
    write(text("LÖSCHEN"))
    write(button("erase:yes"))
    with time_machine.travel(clock.now() + timedelta(hours=1), tick=True):
        assert do_erase_due_citizens() == 1

    # the journey happened and was logged …
    assert WA_ID in my_data[0]["text"]["body"]
    assert Citizen.objects.get().erased_at is not None
    lines = all_logs_at_debug.lines
    assert len(lines) > 20
    assert any("wa:" in line for line in lines)  # citizens followed by their redacted token
    # … without a number, a name or a text in any line
    secrets = [
        WA_ID,
        WA_ID[2:],  # also without the country code
        NAME,
        "Kaltenbrunner",
        QUESTION,
        "Stadtbibliothek",
        STAFF_ANSWER,
        "Inventur",
    ]
    leaks = [line for line in lines for secret in secrets if secret in line]
    assert leaks == []
