"""The reply limit staff see is the one WhatsApp applies: 4,096 characters for the message the
citizen gets, signature included. A text that is too long is refused with a message in one
language, and kept; nothing is cut off and nothing is sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from townhall.inbox.tests.factories import make_conversation, make_staff, open_around_the_clock
from townhall.whatsapp.models import Message

SIGNATURE = "– Ihr Bürgermeisterbüro"
SUFFIX = f"\n\n{SIGNATURE}"
HTMX = {"HX-Request": "true"}
LIMIT = 4096


@pytest.fixture(autouse=True)
def office_open(db: None, settings: Any) -> None:
    settings.INBOX_OBSERVES_HOLIDAYS = False
    settings.INBOX_SIGNATURE = SIGNATURE
    open_around_the_clock()


@pytest.fixture
def staff_client(client: Client) -> Client:
    client.force_login(make_staff())
    return client


@pytest.fixture
def conversation(db: None) -> Any:
    return make_conversation("Klaus Becker", "Die Laterne in der Lindenstraße ist aus.")


@pytest.fixture
def not_sending(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        yield callbacks


def reply_url(conversation: Any) -> str:
    return reverse("inbox:reply", args=[conversation.pk])


def outbound() -> list[Message]:
    return list(Message.objects.filter(direction=Message.Direction.OUTBOUND))


@pytest.mark.django_db
def test_a_reply_that_fills_4096_with_the_signature_is_sent(
    staff_client: Client, conversation, not_sending
) -> None:
    # given: exactly as much text as fits beside the signature, with browser line breaks
    text = "Zeile\r\n" + "x" * (LIMIT - len(SUFFIX) - len("Zeile\n"))

    # when
    staff_client.post(reply_url(conversation), {"text": text}, headers=HTMX)

    # then: the citizen gets 4,096 characters
    [message] = outbound()
    assert len(message.text) == LIMIT
    assert message.text.endswith(SUFFIX)


@pytest.mark.django_db
def test_one_character_over_with_the_signature_is_refused_in_german_and_kept(
    staff_client: Client, conversation, not_sending
) -> None:
    # given: one character more than fits beside the signature
    text = "y" * (LIMIT - len(SUFFIX) + 1)

    # when
    response = staff_client.post(reply_url(conversation), {"text": text}, headers=HTMX)

    # then
    html = response.content.decode()
    assert outbound() == []
    assert (
        "Nicht gesendet: Mit der Signatur hat die Antwort 4097 Zeichen, WhatsApp erlaubt "
        "höchstens 4096. Bitte kürzen Sie sie um 1 Zeichen." in html
    )
    assert f">{text}</textarea>" in html


@pytest.mark.django_db
def test_a_5000_character_paste_is_not_cut_but_refused_with_the_overflow(
    staff_client: Client, conversation, not_sending
) -> None:
    # given: the composer has no maxlength that would cut a paste
    page = staff_client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()
    textarea = page[page.index('id="reply-text"') :]
    textarea = textarea[: textarea.index(">")]
    assert "maxlength" not in textarea
    assert 'data-counter-limit="4096"' in textarea
    text = "z" * 5000

    # when
    response = staff_client.post(reply_url(conversation), {"text": text}, headers=HTMX)

    # then: all 5,000 characters are still there, and staff are told by how much to shorten
    html = response.content.decode()
    assert outbound() == []
    assert f">{text}</textarea>" in html
    assert "um 929 Zeichen" in html


@pytest.mark.django_db
def test_the_refusal_is_english_for_english_staff(
    staff_client: Client, conversation, not_sending
) -> None:
    response = staff_client.post(
        reply_url(conversation),
        {"text": "y" * 5000},
        headers={**HTMX, "Accept-Language": "en"},
    )

    html = response.content.decode()
    assert (
        "Not sent: with the signature the reply has 5025 characters, WhatsApp allows at most "
        "4096. Please shorten it by 929 characters." in html
    )
    assert "Zeichen" not in html.split('id="reply-errors"')[1].split("</div>")[0]


@pytest.mark.django_db
def test_the_counter_knows_the_signature_and_the_placeholders(
    staff_client: Client, conversation
) -> None:
    page = staff_client.get(reverse("inbox:conversation", args=[conversation.pk])).content.decode()

    textarea = page[page.index('id="reply-text"') :]
    textarea = textarea[: textarea.index(">")]
    suffix = textarea.split('data-counter-suffix="')[1].split('"')[0]
    fill = textarea.split('data-counter-fill="')[1].split('"')[0].replace("&quot;", '"')
    assert suffix == f"\n\n{SIGNATURE}"
    assert json.loads(fill) == {"{citizen_name}": "Klaus Becker", "{staff_name}": "Maria Schulz"}
