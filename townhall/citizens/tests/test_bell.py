"""The citizen's bell: how normal posts of the info channel reach a subscriber (every post,
urgent alerts only, or a daily summary), chosen by WhatsApp keyword, by button and on the
preferences page, recorded with its time."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from townhall.citizens.actions import (
    do_record_inbound_contact,
    do_request_erasure,
    do_set_notification_mode,
    do_set_topics,
    do_subscribe_directly,
)
from townhall.citizens.keywords import Command, Match, match_keyword
from townhall.citizens.links import make_token
from townhall.citizens.models import Citizen, ConsentRecord, NotificationMode, Offering
from townhall.core import clock

WA_ID = "4917612345688"
KEYWORD = ConsentRecord.Channel.WHATSAPP_KEYWORD
BUTTON = ConsentRecord.Channel.WHATSAPP_BUTTON
WEB = ConsentRecord.Channel.WEB_FORM


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("ALLES", Command.NOTIFY_ALL),
        ("Alles bitte", Command.NOTIFY_ALL),
        ("everything", Command.NOTIFY_ALL),
        ("all", Command.NOTIFY_ALL),
        ("NUR DRINGEND", Command.NOTIFY_URGENT_ONLY),
        ("nur dringende Meldungen", Command.NOTIFY_URGENT_ONLY),
        ("urgent only", Command.NOTIFY_URGENT_ONLY),
        ("ZUSAMMENFASSUNG", Command.NOTIFY_DIGEST),
        ("Tägliche Zusammenfassung!", Command.NOTIFY_DIGEST),
        ("daily digest", Command.NOTIFY_DIGEST),
        ("Benachrichtigungen", Command.NOTIFICATIONS),
        ("notifications", Command.NOTIFICATIONS),
    ],
)
def test_bell_keywords_in_german_and_english(text, command):
    assert match_keyword(text) == Match(command)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "alles" next to STOP or DELETE still means all offerings / everything
        ("stop alles", Match(Command.STOP)),
        ("alles abmelden", Match(Command.STOP)),
        ("alles löschen", Match(Command.DELETE)),
        # sentences that merely contain the words are for the office
        ("alles klar", None),
        ("Alles gut?", None),
        ("dringend", None),
        ("Ist das dringend?", None),
        ("Hallo an alle", None),
        ("Wann kommt die Zusammenfassung?", None),
    ],
)
def test_bell_words_do_not_change_other_commands_or_sentences(text, expected):
    assert match_keyword(text) == expected


# --- the bot ------------------------------------------------------------------------------------


@pytest.fixture
def citizen_sends(deliver_inbound):
    def send(body: str | dict) -> list[dict]:
        message = {"type": "text", "text": {"body": body}} if isinstance(body, str) else body
        return deliver_inbound(message, wa_id=WA_ID, name="Jonas Weber")

    return send


@pytest.fixture
def subscriber(db: None) -> Citizen:
    citizen = do_record_inbound_contact(WA_ID, "Jonas Weber", clock.now())
    do_subscribe_directly(citizen, [Offering.INFO], channel=BUTTON)
    do_set_topics(citizen, ["verkehr"], channel=BUTTON)
    return citizen


def button(button_id: str) -> dict:
    return {
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": button_id, "title": "x"}},
    }


def bell(citizen: Citizen) -> tuple[str, datetime | None]:
    citizen.refresh_from_db()
    return citizen.notification_mode, citizen.notification_mode_changed_at


def bell_records(citizen: Citizen) -> list[tuple[str, str, str]]:
    return list(
        ConsentRecord.objects.filter(citizen=citizen, kind=ConsentRecord.Kind.NOTIFICATIONS_CHANGED)
        .order_by("id")
        .values_list("notification_mode", "channel", "offering")
    )


@pytest.mark.django_db
def test_default_is_every_post_and_never_chosen(subscriber):
    assert bell(subscriber) == (NotificationMode.ALL, None)


@pytest.mark.django_db
def test_keywords_switch_the_bell_and_record_each_choice_with_its_time(
    subscriber, citizen_sends, time_machine
):
    # when: NUR DRINGEND now, then ZUSAMMENFASSUNG an hour later
    nine = clock.now()
    time_machine.move_to(nine, tick=False)
    (reply,) = citizen_sends("NUR DRINGEND")

    # then
    mode, changed_at = bell(subscriber)
    assert mode == NotificationMode.URGENT_ONLY
    assert nine <= changed_at < nine + timedelta(minutes=1)
    assert reply["text"]["body"].startswith(
        "Erledigt: Sie erhalten ab jetzt nur dringende Meldungen."
    )

    ten = nine + timedelta(hours=1)
    time_machine.move_to(ten, tick=False)
    (reply,) = citizen_sends("Zusammenfassung")
    mode, changed_at = bell(subscriber)
    assert mode == NotificationMode.DIGEST
    assert ten <= changed_at < ten + timedelta(minutes=1)
    assert "um 18:00 Uhr eine Zusammenfassung" in reply["text"]["body"]

    (reply,) = citizen_sends("alles")
    assert bell(subscriber)[0] == NotificationMode.ALL
    assert bell_records(subscriber) == [
        ("urgent_only", KEYWORD, "info"),
        ("digest", KEYWORD, "info"),
        ("all", KEYWORD, "info"),
    ]


@pytest.mark.django_db
def test_english_keyword_answers_in_english(subscriber, citizen_sends):
    (reply,) = citizen_sends("daily digest")

    assert bell(subscriber)[0] == NotificationMode.DIGEST
    assert reply["text"]["body"].startswith(
        "Done: you receive one summary of the day's posts at 18:00"
    )


@pytest.mark.django_db
def test_notifications_keyword_offers_three_buttons_and_a_tap_chooses(subscriber, citizen_sends):
    (question,) = citizen_sends("Benachrichtigungen")

    assert question["type"] == "interactive"
    assert "Jetzt: Alles (jede Meldung sofort)" in question["interactive"]["body"]["text"]
    buttons = question["interactive"]["action"]["buttons"]
    assert [(b["reply"]["id"], b["reply"]["title"]) for b in buttons] == [
        ("notify:all", "Alles"),
        ("notify:urgent_only", "Nur dringende"),
        ("notify:digest", "Zusammenfassung"),
    ]

    citizen_sends(button("notify:digest"))

    assert bell(subscriber)[0] == NotificationMode.DIGEST
    assert bell_records(subscriber) == [("digest", BUTTON, "info")]


@pytest.mark.django_db
def test_the_bell_needs_the_info_channel_and_changes_nothing_without_it(db, citizen_sends):
    (reply,) = citizen_sends("NUR DRINGEND")

    citizen = Citizen.objects.get(wa_id=WA_ID)
    assert bell(citizen) == (NotificationMode.ALL, None)
    assert bell_records(citizen) == []
    assert "INFO" in reply["text"]["body"]


@pytest.mark.django_db
def test_help_lists_the_bell_keywords(subscriber, citizen_sends):
    (reply,) = citizen_sends("hilfe")

    assert "ALLES / NUR DRINGEND / ZUSAMMENFASSUNG" in reply["text"]["body"]


@pytest.mark.django_db
def test_choosing_the_same_mode_again_records_nothing_new(subscriber):
    assert do_set_notification_mode(subscriber, NotificationMode.DIGEST, channel=KEYWORD)
    assert not do_set_notification_mode(subscriber, NotificationMode.DIGEST, channel=KEYWORD)

    assert len(bell_records(subscriber)) == 1


@pytest.mark.django_db
def test_nothing_changes_once_erasure_is_requested(subscriber):
    do_request_erasure(subscriber, channel=KEYWORD)

    assert not do_set_notification_mode(subscriber, NotificationMode.DIGEST, channel=KEYWORD)
    assert bell(subscriber) == (NotificationMode.ALL, None)


@pytest.mark.django_db
def test_unknown_mode_is_refused(subscriber):
    with pytest.raises(ValueError, match="Unknown notification mode"):
        do_set_notification_mode(subscriber, "sometimes", channel=KEYWORD)

    assert bell_records(subscriber) == []


# --- the preferences page -----------------------------------------------------------------------


def preferences_path(citizen: Citizen) -> str:
    return reverse("citizens:preferences", args=[make_token(citizen, "preferences")])


def checked_radio(html: str, name: str) -> list[str]:
    return [
        re.search(r'value="([^"]*)"', tag).group(1)
        for tag in re.findall(rf'<input[^>]*name="{name}"[^>]*>', html)
        if re.search(r"\schecked\b", tag)
    ]


@pytest.mark.django_db
def test_preferences_page_shows_and_switches_the_bell(client: Client, subscriber, time_machine):
    noon = clock.now()
    time_machine.move_to(noon, tick=False)
    path = preferences_path(subscriber)
    page = client.get(path, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert checked_radio(page, "notification_mode") == ["all"]
    assert "Daily summary" in page
    assert "One message a day at 18:00 listing the day&#x27;s posts of your topics" in page

    # when
    response = client.post(
        path,
        {"offerings": ["info"], "topics": ["verkehr"], "notification_mode": "digest"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    # then
    assert response.status_code == 302
    assert bell(subscriber) == (NotificationMode.DIGEST, noon)
    assert bell_records(subscriber) == [("digest", WEB, "info")]
    page = client.get(path, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert checked_radio(page, "notification_mode") == ["digest"]
    assert "Your settings have been saved." in page

    # and: saving it unchanged records nothing
    client.post(
        path,
        {"offerings": ["info"], "topics": ["verkehr"], "notification_mode": "digest"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert len(bell_records(subscriber)) == 1


@pytest.mark.django_db
def test_preferences_page_in_german(client: Client, subscriber):
    page = client.get(preferences_path(subscriber), HTTP_ACCEPT_LANGUAGE="de").content.decode()

    assert "Wie wir Sie benachrichtigen" in page
    assert "Nur dringende Meldungen" in page
    assert "Eine Nachricht am Tag um 18:00 Uhr" in page


@pytest.mark.django_db
def test_an_unknown_mode_on_the_page_is_an_error_and_changes_nothing(client: Client, subscriber):
    response = client.post(
        preferences_path(subscriber),
        {"offerings": ["info"], "topics": ["verkehr"], "notification_mode": "loud"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    assert 'data-testid="form-errors"' in response.content.decode()
    assert bell(subscriber) == (NotificationMode.ALL, None)
