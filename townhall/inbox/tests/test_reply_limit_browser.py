"""The reply box in Debian's Chromium: the counter counts what the citizen gets (signature
included), a long paste is kept whole and shown as too long, the preview shows *bold*."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from django.urls import reverse

from townhall.inbox.tests.factories import (
    PASSWORD,
    make_conversation,
    make_staff,
    open_around_the_clock,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium"),
]

SIGNATURE = "– Ihr Bürgermeisterbüro"
SUFFIX_LENGTH = len(f"\n\n{SIGNATURE}")


@pytest.fixture
def conversation_page(live_server: Any, new_page: Any, settings: Any) -> Any:
    settings.INBOX_OBSERVES_HOLIDAYS = False
    settings.INBOX_SIGNATURE = SIGNATURE
    open_around_the_clock()
    make_staff()
    conversation = make_conversation("Klaus Becker", "Die Laterne ist aus.")
    page = new_page()
    url = live_server.url + reverse("inbox:conversation", args=[conversation.pk])
    page.goto(url)
    page.fill("#id_username", "sachbearbeitung")
    page.fill("#id_password", PASSWORD)
    page.click("form .button--primary")
    page.wait_for_url(f"**{reverse('inbox:conversation', args=[conversation.pk])}")
    return page


@pytest.mark.django_db(transaction=True)
def test_the_counter_counts_the_signature_and_a_long_paste_stays_whole(conversation_page) -> None:
    page = conversation_page
    counter = page.locator("#reply-counter")

    # when: exactly as much text as fits beside the signature
    page.fill("#reply-text", "a" * (4096 - SUFFIX_LENGTH))

    # then
    assert counter.text_content() == "4096 / 4096"
    assert "is-over" not in (counter.get_attribute("class") or "")

    # when: a 5,000-character paste
    page.fill("#reply-text", "b" * 5000)

    # then: nothing is cut, the counter says by how much it is too long
    assert len(page.input_value("#reply-text")) == 5000
    assert counter.text_content() == (
        f"{5000 + SUFFIX_LENGTH} / 4096 – {5000 + SUFFIX_LENGTH - 4096} Zeichen zu lang "
        "(mit Signatur): Bitte kürzen, es wird nichts abgeschnitten"
    )
    assert "is-over" in (counter.get_attribute("class") or "")
    assert page.get_attribute("#reply-text", "aria-invalid") == "true"

    # when: sending anyway
    page.click("#reply button[type=submit]")

    # then: refused with one German sentence, the text still there
    page.wait_for_selector("#reply-errors")
    assert page.text_content("#reply-errors").strip() == (
        f"Nicht gesendet: Mit der Signatur hat die Antwort {5000 + SUFFIX_LENGTH} Zeichen, "
        f"WhatsApp erlaubt höchstens 4096. Bitte kürzen Sie sie um "
        f"{5000 + SUFFIX_LENGTH - 4096} Zeichen."
    )
    assert len(page.input_value("#reply-text")) == 5000


@pytest.mark.django_db(transaction=True)
def test_the_preview_shows_whatsapp_bold_like_the_phone(conversation_page) -> None:
    page = conversation_page

    page.fill("#reply-text", "Das ist *fett* und _kursiv_.")

    page.wait_for_selector("#reply-preview strong")
    assert page.text_content("#reply-preview strong") == "fett"
    assert page.text_content("#reply-preview em") == "kursiv"
    assert "*fett*" not in page.text_content("#reply-preview")
