"""The inbox in Debian's Chromium against the real stack (simulator, web server, worker as
processes on loopback): a citizen's message appears live, staff take it over, note it
internally and answer; the citizen's phone gets the answer and never the note."""

from __future__ import annotations

import re
import shutil
import time
from typing import Any

import pytest

from townhall.inbox.models import Conversation, Note
from townhall.inbox.tests.factories import PASSWORD, make_staff, open_around_the_clock
from townhall.simulator.testing import local_http

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium"),
]

WA_ID = "4917655507788"
NAME = "Henrike Laternser"
# Every wait in this test is bounded by this (seconds).
WAIT_SECONDS = 20
REPORT = "Die Straßenlaterne vor Hausnummer 12 ist seit Tagen aus."
NOTE = "Bauhof informiert"
ANSWER = "Danke, der Bauhof kümmert sich."


class Phone:
    """The citizen's phone in the simulator, driven through its control API."""

    def __init__(self, simulator_url: str) -> None:
        self.base = f"{simulator_url}/_sim/citizens/{WA_ID}"

    def send(self, payload: dict[str, Any]) -> None:
        response = local_http.post(f"{self.base}/send", json={"name": NAME, **payload}, timeout=10)
        response.raise_for_status()

    def messages(self) -> list[dict[str, Any]]:
        response = local_http.get(f"{self.base}/messages", timeout=10)
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return response.json()["messages"]

    def from_city(self) -> list[dict[str, Any]]:
        return [message for message in self.messages() if message["direction"] == "out"]


def wait_for(condition, what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {WAIT_SECONDS} s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def page(live_stack, new_page) -> Any:
    # A tablet: list and conversation must work at this width.
    return new_page(timeout_seconds=WAIT_SECONDS, viewport={"width": 820, "height": 1100})


def test_staff_answer_a_citizen_live_and_the_note_stays_internal(live_stack, page) -> None:
    # given: the office is open around the clock, a staff account, a citizen in the chat
    open_around_the_clock()
    staff = make_staff("sachbearbeitung", first_name="Maria", last_name="Schulz")
    phone = Phone(live_stack.simulator_url)
    phone.send({"type": "text", "text": "chat"})
    consent_question = wait_for(
        lambda: next(
            (
                message
                for message in phone.from_city()
                if "consent:yes" in [option["id"] for option in message["options"]]
            ),
            None,
        ),
        "the consent question",
    )
    phone.send(
        {"type": "button_reply", "message_id": consent_question["id"], "button_id": "consent:yes"}
    )
    wait_for(lambda: len(phone.from_city()) >= 2, "the chat welcome")

    # given: staff logged in, looking at the (empty) inbox
    page.goto(f"{live_stack.web_url}/inbox/")
    page.fill("#id_username", "sachbearbeitung")
    page.fill("#id_password", PASSWORD)
    page.click("form .button--primary")
    page.wait_for_url("**/inbox/")
    page.evaluate("window.inboxPageMarker = 'still the same page'")

    # when: the citizen reports the broken street light
    phone.send({"type": "text", "text": REPORT})

    # then: it appears in the list without a reload
    row = page.locator(".inbox-row__link", has_text=REPORT)
    row.wait_for(timeout=WAIT_SECONDS * 1000)
    assert page.evaluate("window.inboxPageMarker") == "still the same page"
    assert row.locator(".inbox-unread").inner_text().startswith("1")
    conversation = Conversation.objects.get(citizen__wa_id=WA_ID)

    # when: staff open it and assign it to themselves
    row.click()
    page.wait_for_url(re.compile(rf"/inbox/{conversation.pk}/"))
    page.locator(".bubble--in", has_text=REPORT).wait_for()
    page.click("#assign-me")
    page.locator("#assign-me").wait_for(state="detached")

    # and note internally that the depot knows
    page.fill("#note-text", NOTE)
    page.click(".inbox-note-form__submit")
    page.locator(".inbox-note", has_text=NOTE).wait_for()

    # and answer with Ctrl+Enter
    page.fill("#reply-text", ANSWER)
    page.locator("#reply-preview", has_text=ANSWER).wait_for()
    page.press("#reply-text", "Control+Enter")
    page.locator(".bubble--out", has_text=ANSWER).wait_for()
    assert page.input_value("#reply-text") == ""

    # then: the citizen's phone shows the answer, with the signature, and not the note
    answer = wait_for(
        lambda: next((m for m in phone.from_city() if ANSWER in (m["text"] or "")), None),
        "the answer on the citizen's phone",
    )
    assert answer["text"].startswith(ANSWER)
    assert all(NOTE not in (message["text"] or "") for message in phone.messages())

    conversation.refresh_from_db()
    assert conversation.assignee == staff
    assert conversation.state == Conversation.State.WAITING
    assert conversation.first_response_at is not None
    assert Note.objects.get(conversation=conversation).text == NOTE

    # and the ticks follow the delivery without a reload
    page.locator(".bubble--out", has_text=ANSWER).locator(
        ".ticks--delivered, .ticks--read"
    ).wait_for(timeout=WAIT_SECONDS * 1000)
