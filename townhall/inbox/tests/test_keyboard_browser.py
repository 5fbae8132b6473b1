"""The conversation list with the keyboard, in Debian's Chromium: "/" searches, "j"/"k" move
through the rows, Enter opens one, and a live update keeps the focus on the same row and
puts the unread count into the tab's title."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from playwright.sync_api import expect
from time_machine import TimeMachineFixture

from townhall.core import clock
from townhall.inbox.tests.factories import citizen_writes, make_conversation

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium"),
]

PASSWORD = "Rathaus-Test-2025"
# Not a holiday in North Rhine-Westphalia; within office hours.
MONDAY_MORNING = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.fixture
def office_hours(time_machine: TimeMachineFixture) -> None:
    """An ordinary Monday at 10:00 in Musterstadt: the office is open, so the citizens'
    messages get no auto-reply and each conversation counts only what the citizen wrote."""
    time_machine.move_to(MONDAY_MORNING)


@pytest.fixture
def page(office_hours: None, live_server, new_page) -> Any:
    return new_page()


def focused_conversation(page) -> str:
    return page.evaluate(
        "document.activeElement.closest('[data-conversation-id]')?.dataset.conversationId || ''"
    )


@pytest.mark.django_db(transaction=True)
def test_keyboard_moves_through_the_list_and_keeps_focus_across_live_updates(
    page, live_server
) -> None:
    # given: three conversations, newest first: Clara, Bernd, Anna
    now = clock.now()
    anna = make_conversation("Anna Schneider", "Parkplatz", at=now - timedelta(minutes=30))
    bernd = make_conversation("Bernd Wagner", "Spielplatz", at=now - timedelta(minutes=20))
    clara = make_conversation("Clara Fischer", "Laterne", at=now - timedelta(minutes=10))
    User.objects.create_user("sachbearbeitung", password=PASSWORD, is_staff=True).groups.add(
        Group.objects.get(name="Büro")
    )
    page.goto(live_server.url + reverse("inbox:list"))
    page.fill("#id_username", "sachbearbeitung")
    page.fill("#id_password", PASSWORD)
    page.click("form .button--primary")
    page.wait_for_url(f"**{reverse('inbox:list')}")

    # when / then: j, j, k
    page.keyboard.press("j")
    assert focused_conversation(page) == str(clara.pk)
    page.keyboard.press("j")
    assert focused_conversation(page) == str(bernd.pk)
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert focused_conversation(page) == str(bernd.pk)

    # when Anna writes again, the list re-orders itself (Anna on top), and the focus
    # stays with Bernd's conversation
    citizen_writes(anna.citizen, "Noch eine Frage")
    # expect polls without evaluating a string (the page's CSP forbids eval).
    expect(page.locator("#inbox-list [data-conversation-id]").first).to_have_attribute(
        "data-conversation-id", str(anna.pk), timeout=10_000
    )
    assert focused_conversation(page) == str(bernd.pk)
    # and the tab's title counts the unread messages: one from each citizen, and Anna's new one
    expect(page).to_have_title(re.compile(r"^\(4\) "), timeout=10_000)

    # Enter opens it
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{reverse('inbox:conversation', args=[bernd.pk])}*")

    # "/" on the list goes to the search, where j and k are just letters
    page.go_back()
    page.wait_for_url(f"**{reverse('inbox:list')}")
    page.keyboard.press("/")
    page.keyboard.type("jk")
    assert page.input_value("#inbox-search") == "jk"
