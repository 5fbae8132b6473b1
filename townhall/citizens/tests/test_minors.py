"""DSGVO Art. 8: a citizen's own consent counts from 16 (Germany). The consent step asks
for it in WhatsApp (buttons, German and English) and on the preferences page."""

from __future__ import annotations

import pytest
from django.test import Client

from townhall.citizens.actions import current_consent_text, do_record_inbound_contact
from townhall.citizens.models import Citizen, ConsentRecord, Subscription
from townhall.citizens.tests.test_bot import button, button_ids, states, text
from townhall.citizens.tests.test_public_pages import post, preferences_path
from townhall.core import clock

WA_ID = "4915112340001"  # the number test_bot's helpers look at


@pytest.fixture
def web_citizen(db: None) -> Citizen:
    return do_record_inbound_contact("4917612345604", "Klaus Becker", clock.now())


@pytest.fixture
def citizen_sends(deliver_inbound):
    def send(message: dict) -> list[dict]:
        return deliver_inbound(message, wa_id=WA_ID, name="Lena Vogel")

    return send


def button_titles(body: dict) -> list[str]:
    return [b["reply"]["title"] for b in body["interactive"]["action"]["buttons"]]


@pytest.mark.django_db
def test_consent_question_asks_to_confirm_16_or_older_in_german(citizen_sends):
    citizen_sends(text("Start"))

    question = citizen_sends(button("offer:info"))[0]

    body = question["interactive"]["body"]["text"]
    assert "nur, wenn Sie 16 Jahre oder älter sind" in body
    assert "mindestens 16 Jahre alt" in body  # the consent text of version 2026-12
    assert button_ids(question) == ["consent:yes", "consent:under16", "consent:no"]
    assert button_titles(question) == ["Ja, ich stimme zu", "Ich bin unter 16", "Nein, danke"]


@pytest.mark.django_db
def test_consent_question_asks_to_confirm_16_or_older_in_english(citizen_sends):
    citizen_sends(text("subscribe"))

    question = citizen_sends(button("offer:chat"))[0]

    body = question["interactive"]["body"]["text"]
    assert "only if you are 16 or older" in body
    assert "I confirm that I am 16 or older" in body
    assert button_titles(question) == ["Yes, I agree", "I am under 16", "No, thanks"]


@pytest.mark.django_db
def test_16_or_older_subscribes_and_the_consent_record_says_so(citizen_sends):
    citizen_sends(text("Start"))
    citizen_sends(button("offer:both"))

    citizen_sends(button("consent:yes"))

    assert states() == {"info": "active", "chat": "active"}
    granted = ConsentRecord.objects.filter(kind=ConsentRecord.Kind.GRANTED)
    assert sorted(granted.values_list("offering", "age_confirmed", "consent_text__version")) == [
        ("chat", True, "2026-12"),
        ("info", True, "2026-12"),
    ]


@pytest.mark.django_db
def test_under_16_subscribes_nothing_and_explains_that_a_parent_must_agree(citizen_sends):
    citizen_sends(text("Start"))
    citizen_sends(button("offer:both"))

    answer = citizen_sends(button("consent:under16"))

    assert len(answer) == 1
    body = answer[0]["text"]["body"]
    assert "unter 16" in body
    assert "Eltern" in body  # a parent or guardian must agree …
    assert "schriftlichen Einwilligung" in body  # … and how
    assert "/datenschutz/" in body
    assert states() == {"info": "ended", "chat": "ended"}
    citizen = Citizen.objects.get(wa_id=WA_ID)
    assert list(
        ConsentRecord.objects.filter(citizen=citizen)
        .order_by("id")
        .values_list("kind", "offering", "age_confirmed", "consent_text__version")
    ) == [
        ("requested", "info", None, None),
        ("requested", "chat", None, None),
        ("under_age", "info", False, "2026-12"),
        ("under_age", "chat", False, "2026-12"),
    ]
    assert not ConsentRecord.objects.filter(kind=ConsentRecord.Kind.GRANTED).exists()


@pytest.mark.django_db
def test_under_16_in_english_gets_the_explanation_in_english(citizen_sends):
    citizen_sends(text("subscribe"))
    citizen_sends(button("offer:info"))

    body = citizen_sends(button("consent:under16"))[0]["text"]["body"]

    assert "As you are under 16, a parent or guardian has to agree" in body
    assert "Once you are 16, you can send START yourself." in body
    assert Subscription.objects.get().state == Subscription.State.ENDED


@pytest.mark.django_db
def test_under_16_tapped_on_an_old_question_changes_nothing(citizen_sends):
    citizen_sends(text("Start"))

    answer = citizen_sends(button("consent:under16"))

    assert "abgelaufen" in answer[0]["text"]["body"]
    assert not ConsentRecord.objects.filter(kind=ConsentRecord.Kind.UNDER_AGE).exists()


# --- the preferences page -----------------------------------------------------------------------


@pytest.mark.django_db
def test_preferences_page_needs_16_or_older_to_add_a_service(client: Client, web_citizen) -> None:
    path = preferences_path(web_citizen)

    response = post(client, path, {"offerings": ["info"], "topics": ["verkehr"], "consent": "on"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Under 16 we may only register you with a parent&#x27;s or guardian&#x27;s" in html
    assert 'aria-invalid="true"' in html
    assert Subscription.objects.count() == 0
    assert ConsentRecord.objects.count() == 0


@pytest.mark.django_db
def test_preferences_page_records_the_age_confirmation_with_the_consent(
    client: Client, web_citizen
) -> None:
    path = preferences_path(web_citizen)

    response = post(
        client,
        path,
        {"offerings": ["info"], "topics": ["verkehr"], "consent": "on", "is_16_or_older": "on"},
    )

    assert response.status_code == 302
    granted = ConsentRecord.objects.get(kind=ConsentRecord.Kind.GRANTED)
    assert granted.age_confirmed is True
    assert granted.consent_text == current_consent_text()
    assert granted.consent_text.version == "2026-12"


@pytest.mark.django_db
def test_preferences_page_shows_the_age_box_in_german(client: Client, web_citizen) -> None:
    html = client.get(preferences_path(web_citizen), HTTP_ACCEPT_LANGUAGE="de").content.decode()

    assert "Ich bin 16 Jahre oder älter." in html
    assert "Elternteil" in html


@pytest.mark.django_db
def test_privacy_notice_names_the_minimum_age_and_number_changes(client: Client) -> None:
    german = client.get("/datenschutz/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    english = client.get("/datenschutz/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "ab 16 Jahren" in german and "Art. 8 DSGVO" in german
    assert "from the age of 16" in english
    assert "erase the old one" in english
    assert "löschen die alte" in german
