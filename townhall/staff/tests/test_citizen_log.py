from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from townhall.citizens.actions import do_subscribe_directly
from townhall.citizens.models import Citizen, ConsentRecord, Offering
from townhall.inbox.actions import do_receive_chat_message
from townhall.whatsapp.actions import ReactionChange, do_record_reactions
from townhall.whatsapp.models import Message, MessageStatusEvent
from townhall.whatsapp.tests.factories import BASE_TIME, make_citizen, make_inbound, make_outbound

WA_ID = "4917612345604"


def page_url() -> str:
    return reverse("staff:citizen_log", args=[Citizen.objects.get(wa_id=WA_ID).pk])


def history_url() -> str:
    return reverse("staff:citizen_history", args=[Citizen.objects.get(wa_id=WA_ID).pk])


HTMX = {"HX-Request": "true"}


@pytest.fixture
def citizen():
    citizen = make_citizen(WA_ID, "Klaus Becker")
    do_subscribe_directly(citizen, [Offering.CHAT], channel=ConsentRecord.Channel.WHATSAPP_BUTTON)
    return citizen


@pytest.mark.django_db
def test_shows_the_history_in_time_order_with_masked_number(staff_client: Client, citizen) -> None:
    # given: stored out of order, as webhooks may arrive
    make_inbound(citizen, "Zweite Nachricht", at=BASE_TIME + timedelta(minutes=10))
    make_outbound(citizen, "Antwort der Stadt", at=BASE_TIME + timedelta(minutes=5))
    make_inbound(citizen, "Erste Nachricht", at=BASE_TIME)

    # when
    response = staff_client.get(page_url())

    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert [entry.message.text for entry in response.context["history"]] == [
        "Erste Nachricht",
        "Antwort der Stadt",
        "Zweite Nachricht",
    ]
    first, reply, second = (
        html.index("Erste Nachricht"),
        html.index("Antwort der Stadt"),
        html.index("Zweite Nachricht"),
    )
    assert first < reply < second
    assert "bubble--in" in html
    assert "bubble--out" in html
    # The full number only with citizens.view_phone_number (test_number_permissions.py).
    assert "+49 176 •••• 5604" in html
    # 09:00 UTC is 10:00 in Berlin (CET).
    assert ">10:00</time>" in html
    assert "Freitag, 14. März 2025" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("statuses", "css_class", "label", "ticks"),
    [
        ((), "ticks--pending", "In Warteschlange", None),
        (("sent",), "ticks--sent", "Gesendet", "✓"),
        (("sent", "delivered"), "ticks--delivered", "Zugestellt", "✓✓"),
        (("sent", "delivered", "read"), "ticks--read", "Gelesen", "✓✓"),
    ],
)
def test_outbound_messages_show_whatsapp_ticks(
    staff_client: Client, citizen, statuses, css_class, label, ticks
) -> None:
    make_outbound(citizen, "Antwort", statuses=statuses)

    html = staff_client.get(page_url()).content.decode()

    assert f'class="ticks {css_class}" role="img" aria-label="{label}"' in html
    if ticks:
        assert f"{ticks}</span>" in html


@pytest.mark.django_db
def test_status_history_lists_each_status_with_its_time(staff_client: Client, citizen) -> None:
    make_outbound(citizen, "Antwort", at=BASE_TIME, statuses=("sent", "delivered", "read"))

    response = staff_client.get(page_url())

    steps = response.context["history"][0].status_steps
    assert [(step.status, step.at) for step in steps] == [
        ("queued", BASE_TIME),
        ("sent", BASE_TIME + timedelta(minutes=1)),
        ("delivered", BASE_TIME + timedelta(minutes=2)),
        ("read", BASE_TIME + timedelta(minutes=3)),
    ]
    html = response.content.decode()
    assert "<summary>Statusverlauf</summary>" in html
    for label, time in [
        ("In Warteschlange", "10:00:00"),
        ("Gesendet", "10:01:00"),
        ("Zugestellt", "10:02:00"),
        ("Gelesen", "10:03:00"),
    ]:
        assert f'<span class="status-history__status">{label}</span>' in html
        assert f"14.03.2025 {time}</time>" in html


@pytest.mark.django_db
def test_failed_message_shows_warning_with_error_code_and_title(
    staff_client: Client, citizen
) -> None:
    make_outbound(citizen, "Antwort", statuses=("failed",), error=(131026, "Message undeliverable"))

    html = staff_client.get(page_url()).content.decode()

    assert 'class="ticks ticks--failed"' in html
    assert "⚠</span>" in html
    assert "Nicht zugestellt" in html
    assert "Fehler 131026" in html
    assert "Message undeliverable" in html
    assert '<span class="status-history__error">131026 · Message undeliverable</span>' in html


@pytest.mark.django_db
def test_non_text_messages_get_a_type_badge(staff_client: Client, citizen) -> None:
    question = make_outbound(citizen, "Ist die Laterne repariert?", at=BASE_TIME)
    make_inbound(
        citizen,
        "Die Laterne ist kaputt.",
        at=BASE_TIME + timedelta(minutes=1),
        type="image",
        content={"id": "1048576", "mime_type": "image/jpeg", "caption": "Die Laterne ist kaputt."},
    )
    make_inbound(
        citizen,
        "Spielplatz Lindenallee",
        at=BASE_TIME + timedelta(minutes=2),
        type="location",
        content={"latitude": 51.51783, "longitude": 7.46218, "name": "Spielplatz Lindenallee"},
    )
    make_inbound(
        citizen,
        "Ja, danke",
        at=BASE_TIME + timedelta(minutes=3),
        type="interactive",
        content={"type": "button_reply", "button_reply": {"id": "yes", "title": "Ja, danke"}},
        context_provider_id=question.provider_id,
    )
    reaction = make_inbound(
        citizen,
        "👍",
        at=BASE_TIME + timedelta(minutes=4),
        type="reaction",
        content={"message_id": question.provider_id, "emoji": "👍"},
    )
    do_record_reactions(
        [
            ReactionChange(
                message_provider_id=question.provider_id,
                wa_id=citizen.wa_id,
                from_business=False,
                emoji="👍",
                reacted_at=reaction.created_at,
                reaction_message_id=reaction.pk,
            )
        ]
    )

    html = staff_client.get(page_url()).content.decode()

    for badge in ["Bild", "Standort", "Antwort per Button"]:
        assert f'<span class="badge">{badge}</span>' in html
    assert "image/jpeg" in html
    assert "51.51783, 7.46218" in html
    assert "https://www.openstreetmap.org/?mlat=51.517830&amp;mlon=7.462180" in html
    # The reaction is no bubble of its own: it sits on the question as a badge.
    assert '<span class="badge">Reaktion</span>' not in html
    assert f'id="message-{reaction.pk}"' not in html
    question_bubble = html.split(f'id="message-{question.pk}"')[1].split("</article>")[0]
    assert 'data-emoji="👍"' in question_bubble
    # The button reply quotes the message it refers to.
    assert html.count(f'href="#message-{question.pk}"') == 1


@pytest.mark.django_db
def test_history_queries_do_not_grow_with_the_number_of_messages(
    staff_client: Client, citizen
) -> None:
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert staff_client.get(page_url()).status_code == 200
        return len(context.captured_queries)

    make_inbound(citizen, at=BASE_TIME)
    make_outbound(citizen, at=BASE_TIME + timedelta(minutes=1))
    queries_for_two = count_queries()
    for index in range(2, 22):
        make_inbound(citizen, at=BASE_TIME + timedelta(minutes=index * 2))
        make_outbound(citizen, at=BASE_TIME + timedelta(minutes=index * 2 + 1))

    assert count_queries() == queries_for_two


@pytest.mark.django_db
def test_page_polls_the_history_every_three_seconds(staff_client: Client, citizen) -> None:
    make_inbound(citizen)

    response = staff_client.get(page_url())

    html = response.content.decode()
    version = response.context["history_version"]
    assert f'hx-get="{history_url()}?version={version}"' in html
    # Only while the tab is visible: townhall.js cancels polls of hidden tabs (no eval).
    assert 'hx-trigger="every 3s" data-poll-when-visible' in html


@pytest.mark.django_db
def test_poll_answers_no_content_until_the_history_changes(staff_client: Client, citizen) -> None:
    # given
    message = make_outbound(citizen, "Antwort", statuses=("sent",))
    version = staff_client.get(page_url()).context["history_version"]

    # when nothing changed
    unchanged = staff_client.get(history_url(), {"version": version}, headers=HTMX)

    # then
    assert unchanged.status_code == 204
    assert unchanged.content == b""

    # when the message was delivered
    MessageStatusEvent.objects.create(
        provider_message_id=message.provider_id,
        status="delivered",
        recipient_wa_id=WA_ID,
        occurred_at=BASE_TIME + timedelta(minutes=5),
    )
    Message.objects.filter(pk=message.pk).update(
        status="delivered", status_updated_at=BASE_TIME + timedelta(minutes=5)
    )
    changed = staff_client.get(history_url(), {"version": version}, headers=HTMX)

    # then
    html = changed.content.decode()
    assert changed.status_code == 200
    assert html.lstrip().startswith('<div id="history"')
    assert "ticks--delivered" in html
    assert changed.context["history_version"] != version
    assert "<html" not in html


@pytest.mark.django_db
def test_replies_are_written_in_the_inbox_conversation(staff_client: Client, citizen) -> None:
    message = make_inbound(citizen, "Wann kommt die Sperrmüllabholung?")
    conversation = do_receive_chat_message(citizen, message)

    html = staff_client.get(page_url()).content.decode()

    assert f'href="{reverse("inbox:conversation", args=[conversation.pk])}"' in html
    assert "Im Posteingang antworten" in html
    assert 'id="reply"' not in html
    assert staff_client.post(page_url(), {"body": "Am Dienstag."}).status_code == 405
    assert Message.objects.filter(direction="out").count() == 0


@pytest.mark.django_db
def test_citizen_without_a_conversation_has_nothing_to_reply_to(
    staff_client: Client, citizen
) -> None:
    html = staff_client.get(page_url()).content.decode()

    assert "inbox/" not in html.split('class="chat__reply-link"')[1].split("</p>")[0]
    assert "keine Unterhaltung" in html


@pytest.mark.django_db
def test_bubbles_show_whatsapp_formatting_like_the_phone(staff_client: Client, citizen) -> None:
    question = make_outbound(citizen, "Ist die *Laterne* repariert?\n- ja\n- nein", at=BASE_TIME)
    make_inbound(
        citizen,
        "_Leider_ nicht <b>Bitte</b> https://musterstadt.de/x",
        at=BASE_TIME + timedelta(minutes=3),
        context_provider_id=question.provider_id,
    )

    html = staff_client.get(page_url()).content.decode()

    # Both sides are rendered: WhatsApp formats the city's and the citizen's messages alike.
    assert (
        "Ist die <strong>Laterne</strong> repariert?</p><ul><li>ja</li><li>nein</li></ul>" in html
    )
    assert "<em>Leider</em> nicht &lt;b&gt;Bitte&lt;/b&gt;" in html
    assert 'rel="nofollow noopener noreferrer" target="_blank">https://musterstadt.de/x</a>' in html
    # The quote of the question is a link itself: its text loses the markers instead.
    assert "Ist die Laterne repariert? ja nein" in html
