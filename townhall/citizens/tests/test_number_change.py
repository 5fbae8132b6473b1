"""A citizen changes their WhatsApp number (system message ``user_changed_number``):
everything moves to the new number and the old one is erased."""

from __future__ import annotations

import time

import pytest

from townhall.citizens.models import (
    Citizen,
    ConsentRecord,
    Subscription,
    TopicSubscription,
)
from townhall.citizens.tests.test_bot import button, row, text
from townhall.citizens.tests.test_journey_end_to_end import rows_containing
from townhall.inbox.models import Conversation, Note
from townhall.simulator.testing import local_http
from townhall.whatsapp.models import Message

OLD = "4915112340077"
NEW = "4917699887766"
NAME = "Wilhelmine Zwiebelhaus"


def number_changed(new_wa_id: str = NEW, kind: str = "user_changed_number") -> dict:
    return {
        "type": "system",
        "system": {
            "body": f"User {NAME} changed from {OLD} to {new_wa_id}",
            "wa_id": new_wa_id,
            "type": kind,
        },
    }


@pytest.fixture
def from_number(deliver_inbound):
    def send(wa_id: str, message: dict) -> list[dict]:
        return deliver_inbound(message, wa_id=wa_id, name=NAME)

    return send


@pytest.fixture
def subscriber(from_number) -> Citizen:
    """Chat and info channel (traffic), and a question open in the inbox."""
    from_number(OLD, text("Start"))
    from_number(OLD, button("offer:both"))
    from_number(OLD, button("consent:yes"))
    from_number(OLD, row("topic:verkehr"))
    from_number(OLD, row("topic:done"))
    from_number(OLD, text("Wann wird die Ampel an der Kirchstraße repariert?"))
    return Citizen.objects.get(wa_id=OLD)


def states(citizen: Citizen) -> dict[str, str]:
    return dict(citizen.subscriptions.values_list("offering", "state"))


def topics(citizen: Citizen) -> set[str]:
    return set(
        TopicSubscription.objects.filter(citizen=citizen, is_active=True).values_list(
            "topic__slug", flat=True
        )
    )


@pytest.mark.django_db
def test_subscriptions_topics_consents_and_conversation_move_to_the_new_number(
    from_number, subscriber
):
    conversation = Conversation.objects.get(citizen=subscriber)
    records_before = subscriber.consent_records.count()
    messages_before = Message.objects.filter(wa_id=OLD).count()

    answers = from_number(OLD, number_changed())

    assert answers == []  # a notice from WhatsApp, not from the citizen: no answer
    citizen = Citizen.objects.get(pk=subscriber.pk)
    assert citizen.wa_id == NEW
    assert citizen.profile_name == NAME
    assert states(citizen) == {"chat": "active", "info": "active"}
    assert topics(citizen) == {"verkehr"}
    assert Conversation.objects.get(citizen=citizen) == conversation
    assert Message.objects.filter(wa_id=NEW).count() == messages_before + 1  # with the notice
    records = list(citizen.consent_records.order_by("id"))
    assert len(records) == records_before + 1
    assert (records[-1].kind, records[-1].channel) == ("number_changed", "whatsapp_system")
    # the old number is gone from every row, the notice's text included
    assert rows_containing(OLD) == []
    assert not Citizen.objects.filter(wa_id=OLD).exists()


@pytest.mark.django_db
def test_after_the_change_the_citizen_is_answered_on_the_new_number(from_number, subscriber):
    from_number(OLD, number_changed())

    # a chat message from the new number goes to the same conversation
    assert from_number(NEW, text("Und wann kommt der Bus wieder?")) == []
    conversation = Conversation.objects.get(citizen=subscriber)
    assert conversation.last_message_preview == "Und wann kommt der Bus wieder?"
    # and the bot answers the new number
    answer = from_number(NEW, text("MEINE DATEN"))
    assert [body["to"] for body in answer] == [NEW]
    assert "+" + NEW in answer[0]["text"]["body"]
    assert Citizen.objects.count() == 1


@pytest.mark.django_db
def test_a_stranger_with_the_new_number_is_merged_into_the_citizen(from_number, subscriber):
    # given the citizen wrote from the new phone before WhatsApp's notice arrived
    welcome = from_number(NEW, text("Hallo?"))
    assert len(welcome) == 1  # a stranger gets the short help
    stranger = Citizen.objects.get(wa_id=NEW)
    from_number(NEW, text("START"))  # and even asked for the info channel, unconfirmed
    from_number(NEW, button("offer:info"))
    stranger_records = set(stranger.consent_records.values_list("id", flat=True))
    assert stranger_records

    # when
    from_number(OLD, number_changed())

    # then one citizen, under the new number, with everything
    assert list(Citizen.objects.values_list("pk", "wa_id")) == [(subscriber.pk, NEW)]
    citizen = Citizen.objects.get()
    assert states(citizen) == {"chat": "active", "info": "active"}  # the active one won
    assert topics(citizen) == {"verkehr"}
    assert stranger_records <= set(citizen.consent_records.values_list("id", flat=True))
    assert citizen.consent_records.filter(kind="number_changed").count() == 1
    assert Message.objects.filter(wa_id=NEW, direction="in").count() == 10
    assert rows_containing(OLD) == []


@pytest.mark.django_db
def test_a_stranger_conversation_joins_the_citizens(from_number, subscriber, settings):
    # given the new number wrote to the office while not subscribed, and staff noted it
    settings.INBOX_ACCEPT_UNSUBSCRIBED = True
    from_number(NEW, text("Start"))
    from_number(NEW, button("offer:chat"))
    from_number(NEW, button("consent:yes"))
    from_number(NEW, text("Hier meine neue Nummer."))
    stranger_conversation = Conversation.objects.get(citizen__wa_id=NEW)
    Note.objects.create(conversation=stranger_conversation, text="Neue Nummer, gleiche Person")

    from_number(OLD, number_changed())

    conversation = Conversation.objects.get()
    assert conversation.citizen_id == subscriber.pk
    assert list(conversation.notes.values_list("text", flat=True)) == [
        "Neue Nummer, gleiche Person"
    ]


@pytest.mark.django_db
def test_the_older_notice_name_customer_changed_number_works_too(from_number, subscriber):
    notice = number_changed(kind="customer_changed_number")
    notice["system"]["new_wa_id"] = notice["system"].pop("wa_id")

    from_number(OLD, notice)

    assert Citizen.objects.get(pk=subscriber.pk).wa_id == NEW
    assert rows_containing(OLD) == []


@pytest.mark.django_db
def test_a_notice_about_a_number_we_never_knew_creates_nobody_and_keeps_no_number(
    from_number,
):
    assert from_number(OLD, number_changed()) == []

    assert Citizen.objects.count() == 0
    assert rows_containing(OLD) == []


@pytest.mark.django_db
def test_a_notice_without_a_valid_new_number_changes_nothing(from_number, subscriber):
    records_before = subscriber.consent_records.count()

    assert from_number(OLD, number_changed(new_wa_id="not-a-number")) == []

    citizen = Citizen.objects.get(pk=subscriber.pk)
    assert citizen.wa_id == OLD
    assert states(citizen) == {"chat": "active", "info": "active"}
    assert citizen.consent_records.count() == records_before


@pytest.mark.django_db
def test_the_export_after_a_number_change_names_the_new_number(from_number, subscriber):
    from townhall.citizens.queries import citizen_export

    from_number(OLD, number_changed())

    export = citizen_export(Citizen.objects.get(pk=subscriber.pk))
    assert export["wa_id"] == NEW
    assert export["consent_history"][-1]["kind"] == "number_changed"
    assert OLD not in str(export)


# --- end to end: the simulator's phone changes its number ----------------------------------------


@pytest.mark.e2e
def test_number_change_end_to_end_through_the_simulator(live_stack, wait):
    base = f"{live_stack.simulator_url}/_sim/citizens"
    seen: set[str] = set()

    def send(wa_id: str, payload: dict) -> None:
        local_http.post(f"{base}/{wa_id}/send", json={"name": NAME, **payload}, timeout=10)

    def next_from_city(wa_id: str) -> dict:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            response = local_http.get(f"{base}/{wa_id}/messages", timeout=10)
            if response.status_code == 200:
                for message in response.json()["messages"]:
                    if message["direction"] == "out" and message["id"] not in seen:
                        seen.add(message["id"])
                        return message
            time.sleep(0.1)
        pytest.fail("no message from the city within 20 s")

    send(OLD, {"type": "text", "text": "Start"})
    welcome = next_from_city(OLD)
    send(OLD, {"type": "button_reply", "message_id": welcome["id"], "button_id": "offer:chat"})
    question = next_from_city(OLD)
    send(OLD, {"type": "button_reply", "message_id": question["id"], "button_id": "consent:yes"})
    next_from_city(OLD)
    citizen = wait(lambda: Citizen.objects.filter(wa_id=OLD).first(), what="citizen")

    # the phone changes its number
    response = local_http.post(f"{base}/{OLD}/change-number", json={"new_wa_id": NEW}, timeout=10)
    assert response.status_code == 200
    wait(
        lambda: Citizen.objects.filter(pk=citizen.pk, wa_id=NEW).exists(),
        what="the number change",
    )

    # the chat goes on from the new number, answered there
    send(NEW, {"type": "text", "text": "HILFE"})
    help_text = next_from_city(NEW)
    assert "START" in help_text["text"]
    assert Subscription.objects.get(citizen=citizen).state == Subscription.State.ACTIVE
    assert ConsentRecord.objects.filter(citizen=citizen, kind="number_changed").count() == 1
    wait(lambda: rows_containing(OLD) == [], what="no row with the old number")
    assert local_http.get(f"{base}/{OLD}/messages", timeout=10).status_code == 404
