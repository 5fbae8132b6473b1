"""The bot's answers, through the real intake path (webhook → worker → handlers → sending
layer), with the Cloud API faked at the HTTP boundary."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from townhall.citizens.bot import CONSENT_TIMEOUT
from townhall.citizens.models import (
    BotSession,
    Citizen,
    ConsentRecord,
    Subscription,
    TopicSubscription,
)
from townhall.core import clock
from townhall.inbox.models import Conversation

WA_ID = "4915112340001"
# An ordinary working day (no holiday in North Rhine-Westphalia), office hours.
MONDAY_MORNING = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.fixture
def citizen_sends(deliver_inbound):
    def send(message: dict, **kwargs) -> list[dict]:
        return deliver_inbound(message, wa_id=WA_ID, name="Jonas Weber", **kwargs)

    return send


def text(body: str) -> dict:
    return {"type": "text", "text": {"body": body}}


def button(button_id: str, title: str = "x") -> dict:
    return {
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": button_id, "title": title}},
    }


def row(row_id: str, title: str = "x") -> dict:
    return {
        "type": "interactive",
        "interactive": {"type": "list_reply", "list_reply": {"id": row_id, "title": title}},
    }


def button_ids(body: dict) -> list[str]:
    return [b["reply"]["id"] for b in body["interactive"]["action"]["buttons"]]


def states(citizen_wa_id: str = WA_ID) -> dict[str, str]:
    return dict(
        Subscription.objects.filter(citizen__wa_id=citizen_wa_id).values_list("offering", "state")
    )


@pytest.mark.django_db
def test_unknown_text_from_stranger_gets_short_help_never_silence(citizen_sends):
    sent = citizen_sends(text("Wann wird die Straße vor meinem Haus gekehrt?"))

    assert len(sent) == 1
    assert sent[0]["type"] == "interactive"
    assert "WhatsApp-Service der Stadt Musterstadt" in sent[0]["interactive"]["body"]["text"]
    assert button_ids(sent[0]) == ["cmd:start", "cmd:help"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "message",
    [
        {"type": "reaction", "reaction": {"message_id": "wamid.x", "emoji": "👍"}},
        {"type": "system", "system": {"type": "customer_changed_number", "body": "x"}},
        {"type": "unsupported", "errors": [{"code": 131051, "title": "Unsupported"}]},
    ],
)
def test_reactions_and_system_messages_get_no_answer(citizen_sends, message):
    assert citizen_sends(message) == []


@pytest.mark.django_db
def test_start_offers_three_choices_and_nothing_is_active_before_consent(citizen_sends):
    welcome = citizen_sends(text("Start"))[0]
    assert button_ids(welcome) == ["offer:info", "offer:chat", "offer:both"]

    consent_question = citizen_sends(button("offer:both"))[0]

    assert button_ids(consent_question) == ["consent:yes", "consent:under16", "consent:no"]
    assert "Datenschutzhinweise" in consent_question["interactive"]["body"]["text"]
    assert states() == {"info": "pending", "chat": "pending"}
    assert not ConsentRecord.objects.filter(kind="granted").exists()


@pytest.mark.django_db
def test_yes_by_keyword_confirms_and_records_consent_text(citizen_sends):
    citizen_sends(text("Start"))
    citizen_sends(button("offer:chat"))

    sent = citizen_sends(text("Ja"))

    assert states() == {"chat": "active"}
    record = ConsentRecord.objects.get(kind="granted")
    assert record.channel == "whatsapp_keyword"
    assert record.consent_text.version == "2026-12"
    # "Ja" answers a question that asks to agree only at 16 or older.
    assert record.age_confirmed is True
    assert "110" in sent[0]["text"]["body"]


@pytest.mark.django_db
def test_no_cancels_the_request(citizen_sends):
    citizen_sends(text("info"))

    citizen_sends(button("consent:no"))

    assert states() == {"info": "ended"}
    assert not BotSession.objects.exists()


@pytest.mark.django_db
def test_consent_question_expires(citizen_sends, time_machine):
    citizen_sends(text("chat"))
    time_machine.move_to(clock.now() + CONSENT_TIMEOUT + timedelta(minutes=1))

    sent = citizen_sends(button("consent:yes"))

    assert states() == {"chat": "pending"}
    assert "abgelaufen" in sent[0]["text"]["body"]


@pytest.mark.django_db
def test_topics_toggle_and_done(citizen_sends):
    citizen_sends(text("info"))
    topic_list = citizen_sends(button("consent:yes"))[0]
    rows = [r["id"] for r in topic_list["interactive"]["action"]["sections"][0]["rows"]]
    assert rows == [
        "topic:dringend",
        "topic:verkehr",
        "topic:veranstaltungen",
        "topic:stadt",
        "topic:all",
        "topic:done",
    ]

    citizen_sends(row("topic:verkehr"))
    again = citizen_sends(row("topic:stadt"))[0]
    titles = [r["title"] for r in again["interactive"]["action"]["sections"][0]["rows"]]
    assert "✓ Verkehr & Baustellen" in titles
    assert "✓ Neues aus der Stadt" in titles
    citizen_sends(row("topic:verkehr"))
    done = citizen_sends(row("topic:done"))[0]

    assert set(
        TopicSubscription.objects.filter(is_active=True).values_list("topic__slug", flat=True)
    ) == {"stadt"}
    assert "Neues aus der Stadt" in done["interactive"]["body"]["text"]
    # the confirmation asks how to notify (the bell), with three buttons
    assert button_ids(done) == ["notify:all", "notify:urgent_only", "notify:digest"]
    kinds = list(ConsentRecord.objects.values_list("kind", flat=True))
    assert kinds.count("topic_added") == 2
    assert kinds.count("topic_removed") == 1


@pytest.mark.django_db
def test_done_without_topics_asks_again(citizen_sends):
    citizen_sends(text("info"))
    citizen_sends(button("consent:yes"))

    sent = citizen_sends(row("topic:done"))[0]

    assert sent["type"] == "interactive"
    assert "mindestens ein Thema" in sent["interactive"]["body"]["text"]


@pytest.mark.django_db
def test_stop_all_ends_everything_and_later_chat_sends_are_refused(citizen_sends):
    citizen_sends(text("start"))
    citizen_sends(button("offer:both"))
    citizen_sends(button("consent:yes"))

    sent = citizen_sends(text("STOP"))

    assert states() == {"info": "ended", "chat": "ended"}
    assert "keine Nachrichten mehr" in sent[0]["text"]["body"]
    withdrawn = ConsentRecord.objects.filter(kind="withdrawn")
    assert sorted(withdrawn.values_list("offering", flat=True)) == ["chat", "info"]


@pytest.mark.django_db
def test_chat_subscriber_free_text_is_for_the_office_not_the_bot(citizen_sends, time_machine):
    # given: a Monday morning, the office is open (it would auto-reply when closed)
    time_machine.move_to(MONDAY_MORNING)
    citizen_sends(text("chat"))
    citizen_sends(button("consent:yes"))

    sent = citizen_sends(text("Die Laterne in der Gartenstraße ist defekt."))

    assert sent == []
    conversation = Conversation.objects.get(citizen__wa_id=WA_ID)
    assert conversation.unread_count == 1


@pytest.mark.django_db
def test_english_keyword_switches_language(citizen_sends):
    sent = citizen_sends(text("help"))

    assert Citizen.objects.get(wa_id=WA_ID).language == "en"
    assert sent[0]["text"]["body"].startswith("Commands:")


@pytest.mark.django_db
def test_my_data_sends_summary_with_export_link(citizen_sends):
    citizen_sends(text("chat"))
    citizen_sends(button("consent:yes"))

    body = citizen_sends(text("Meine Daten"))[0]["text"]["body"]

    assert "+4915112340001" in body
    assert "Jonas Weber" in body
    assert "/meine-daten/" in body
    assert ConsentRecord.objects.filter(kind="data_exported").count() == 1


@pytest.mark.django_db
def test_delete_needs_confirmation(citizen_sends):
    question = citizen_sends(text("löschen"))[0]
    assert button_ids(question) == ["erase:yes", "erase:no"]

    citizen_sends(button("erase:no"))

    citizen = Citizen.objects.get(wa_id=WA_ID)
    assert citizen.erasure_requested_at is None


@pytest.mark.django_db
def test_delete_confirmed_says_goodbye_and_requests_erasure(citizen_sends):
    citizen_sends(text("chat"))
    citizen_sends(button("consent:yes"))
    citizen_sends(text("LÖSCHEN"))

    goodbye = citizen_sends(button("erase:yes"))

    citizen = Citizen.objects.get(wa_id=WA_ID)
    assert citizen.erasure_requested_at is not None
    assert states() == {"chat": "ended"}
    assert "letzte Nachricht" in goodbye[0]["text"]["body"]
    # Anything the citizen writes now is ignored until the erasure has run.
    assert citizen_sends(text("Hallo?")) == []


@pytest.mark.django_db
@pytest.mark.parametrize("wa_id", ["4912", "49123", "1234567890123456789"])
def test_message_from_an_impossible_number_is_logged_not_answered(deliver_inbound, wa_id, caplog):
    sent = deliver_inbound({"type": "text", "text": {"body": "Start"}}, wa_id=wa_id, name="X")

    assert sent == []
    assert not Citizen.objects.exists()
    assert "citizens.invalid_wa_id" in caplog.text
    # Our own log lines only: huey's task ids are random and may contain any digits.
    our_lines = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("townhall"))
    assert re.search(rf"(?<!\d){wa_id}(?!\d)", our_lines) is None


@pytest.mark.django_db
def test_start_from_a_subscriber_says_what_they_already_receive(citizen_sends):
    # given: a citizen with the chat and the info channel (traffic and events)
    citizen_sends(text("Start"))
    citizen_sends(button("offer:both"))
    citizen_sends(button("consent:yes"))
    citizen_sends(row("topic:verkehr"))
    citizen_sends(row("topic:veranstaltungen"))
    citizen_sends(row("topic:done"))
    records_before = ConsentRecord.objects.count()

    # when
    sent = citizen_sends(text("Start"))

    # then: no second registration, but what they get and how to change or stop it
    assert len(sent) == 1
    body = sent[0]["text"]["body"]
    assert body.startswith(
        "Sie sind beim WhatsApp-Service der Stadt Musterstadt bereits angemeldet:"
    )
    assert "• Info-Kanal, Ihre Themen: Verkehr & Baustellen, Veranstaltungen\n" in body
    assert "• Chat mit dem Bürgermeisterbüro" in body
    assert "THEMEN" in body and "EINSTELLUNGEN" in body and "STOP INFO" in body
    assert states() == {"info": "active", "chat": "active"}
    assert ConsentRecord.objects.count() == records_before
    assert not BotSession.objects.filter(citizen__wa_id=WA_ID).exists()


@pytest.mark.django_db
def test_start_from_a_chat_subscriber_offers_the_info_channel_too(citizen_sends):
    citizen_sends(text("chat"))
    citizen_sends(button("consent:yes"))

    sent = citizen_sends(text("Start"))

    assert len(sent) == 1
    assert "Chat mit dem Bürgermeisterbüro" in sent[0]["interactive"]["body"]["text"]
    assert "Info-Kanal, Ihre Themen" not in sent[0]["interactive"]["body"]["text"]
    assert button_ids(sent[0]) == ["offer:info", "cmd:help"]
