"""The citizens' public pages: subscribe, privacy notice, and the preferences behind a link."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import segno
from django.test import Client
from django.urls import reverse
from time_machine import TimeMachineFixture

from townhall.citizens.actions import (
    current_consent_text,
    do_record_inbound_contact,
    do_set_topics,
    do_subscribe_directly,
)
from townhall.citizens.links import make_token
from townhall.citizens.models import (
    Citizen,
    ConsentRecord,
    Offering,
    Subscription,
    TopicSubscription,
)
from townhall.citizens.tests.queries import (
    chosen_topics,
    last_record_id,
    records_after,
    subscription_states,
)
from townhall.core import clock

WA_ID = "4917612345604"
FIRST_CONTACT = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
CLICK_TO_CHAT = "https://wa.me/4929321000000?text=START"
EIGHT_DAYS = timedelta(days=8)
BUTTON = ConsentRecord.Channel.WHATSAPP_BUTTON


@pytest.fixture
def citizen(db: None) -> Citizen:
    return do_record_inbound_contact(WA_ID, "Klaus Becker", FIRST_CONTACT)


@pytest.fixture
def info_subscriber(citizen: Citizen) -> Citizen:
    """Subscribed to the info channel (topics: urgent alerts, traffic) and the chat."""
    do_subscribe_directly(citizen, [Offering.INFO], channel=BUTTON)
    do_subscribe_directly(citizen, [Offering.CHAT], channel=BUTTON)
    do_set_topics(citizen, ["dringend", "verkehr"], channel=BUTTON)
    return citizen


def preferences_path(citizen: Citizen, token: str | None = None) -> str:
    return reverse("citizens:preferences", args=[token or make_token(citizen, "preferences")])


def get(client: Client, path: str):
    return client.get(path, HTTP_ACCEPT_LANGUAGE="en")


def post(client: Client, path: str, data: dict):
    return client.post(path, data, HTTP_ACCEPT_LANGUAGE="en")


def checked_values(html: str, name: str) -> set[str]:
    """Values of the ticked checkboxes called ``name``."""
    values = set()
    for tag in re.findall(rf'<input[^>]*name="{name}"[^>]*>', html):
        if re.search(r"\schecked\b", tag):
            values.add(re.search(r'value="([^"]*)"', tag).group(1))
    return values


# --- subscribe page -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_subscribe_page_has_the_qr_code_and_the_click_to_chat_link(client: Client) -> None:
    response = get(client, "/buergerservice/")

    assert response.status_code == 200
    html = response.content.decode()
    link = re.search(r'<a[^>]*data-testid="click-to-chat"[^>]*>', html).group(0)
    assert f'href="{CLICK_TO_CHAT}"' in link
    qr = re.search(r'<figure[^>]*data-testid="subscribe-qr"[^>]*>(.*?)</figure>', html, re.S)
    assert qr is not None
    assert "<svg" in qr.group(1)
    # The code encodes exactly the click-to-chat link: same modules as segno draws for it.
    modules = r'class="qrline"[^>]* d="([^"]+)"'
    expected = segno.make(CLICK_TO_CHAT, error="m").svg_inline(scale=6)
    assert re.search(modules, qr.group(1)).group(1) == re.search(modules, expected).group(1)


@pytest.mark.django_db
def test_subscribe_page_explains_both_services_topics_and_how_to_leave(client: Client) -> None:
    html = get(client, reverse("citizens:subscribe")).content.decode()

    assert "<h1" in html and "City of Musterstadt on WhatsApp" in html
    for topic_name in ("Urgent alerts", "Traffic &amp; roadworks", "Events", "City news"):
        assert topic_name in html
    assert "110" in html and "112" in html
    for keyword in ("STOP", "MY DATA", "DELETE"):
        assert f"<dt>{keyword}</dt>" in html
    assert f'href="{reverse("citizens:privacy")}"' in html


@pytest.mark.django_db
def test_public_pages_have_no_staff_navigation(client: Client) -> None:
    for path in ("/buergerservice/", "/datenschutz/"):
        html = get(client, path).content.decode()

        assert 'class="mainnav"' not in html
        assert reverse("staff:login") not in html
        assert reverse("staff:message_log") not in html


@pytest.mark.django_db
def test_subscribe_page_follows_the_configured_number(client: Client, settings) -> None:
    settings.WHATSAPP = {**settings.WHATSAPP, "DISPLAY_PHONE_NUMBER": "+49 2932 555"}

    html = get(client, "/buergerservice/").content.decode()

    assert 'href="https://wa.me/492932555?text=START"' in html


# --- privacy notice -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_privacy_page_shows_the_current_consent_text(client: Client) -> None:
    consent_text = current_consent_text()

    response = get(client, "/datenschutz/")

    assert response.status_code == 200
    assert reverse("citizens:privacy") == "/datenschutz/"
    html = response.content.decode()
    assert consent_text.version == "2026-12"
    assert "Version 2026-12, published on" in html
    assert "I confirm that I am 16 or older" in consent_text.text_en
    assert consent_text.text_en in html
    assert "City of Musterstadt" in html
    assert "Art. 6(1)(a) GDPR" in html
    assert "deleted after 14 days" in html
    assert "The texts of messages are emptied after 90 days" in html
    assert "heard nothing from you for 1095 days, we erase your number" in html
    assert "Landesbeauftragte für Datenschutz und Informationsfreiheit Nordrhein-Westfalen" in html
    assert "Meta Platforms Ireland Ltd." in html


@pytest.mark.django_db
def test_privacy_page_states_the_retention_periods_in_force(client: Client, settings) -> None:
    settings.RETENTION = {**settings.RETENTION, "MESSAGE_DAYS": 30, "FORMER_CITIZEN_DAYS": 730}

    html = get(client, "/datenschutz/").content.decode()

    assert "The texts of messages are emptied after 30 days" in html
    assert "heard nothing from you for 730 days, we erase your number" in html


@pytest.mark.django_db
def test_privacy_page_shows_the_consent_text_in_german_by_default(client: Client) -> None:
    html = client.get("/datenschutz/").content.decode()

    assert '<html lang="de">' in html
    assert current_consent_text().text_de in html


# --- links --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_garbage_token_is_not_found(client: Client, citizen: Citizen) -> None:
    response = get(client, preferences_path(citizen, token="not-a-token"))

    assert response.status_code == 404
    html = response.content.decode()
    assert 'data-testid="link-invalid"' in html
    assert "SETTINGS" in html
    assert 'data-testid="preferences-form"' not in html


@pytest.mark.django_db
def test_export_token_does_not_open_the_preferences(client: Client, citizen: Citizen) -> None:
    response = get(client, preferences_path(citizen, token=make_token(citizen, "export")))

    assert response.status_code == 404


@pytest.mark.django_db
def test_expired_link_says_so_and_changes_nothing(
    client: Client, citizen: Citizen, time_machine: TimeMachineFixture
) -> None:
    # given a link made eight days ago (valid for seven)
    path = preferences_path(citizen, token=make_token(citizen, "preferences"))
    time_machine.move_to(clock.now() + EIGHT_DAYS)

    # when
    page = get(client, path)
    submitted = post(client, path, {"offerings": ["info"], "topics": ["verkehr"], "consent": "on"})

    # then
    assert page.status_code == 410
    assert "This link has expired" in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    assert submitted.status_code == 410
    assert subscription_states(citizen) == {}
    assert ConsentRecord.objects.count() == 0


# --- preferences --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_preferences_show_current_choices_and_only_a_masked_number(
    client: Client, info_subscriber: Citizen
) -> None:
    response = get(client, preferences_path(info_subscriber))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert checked_values(html, "offerings") == {"info", "chat"}
    assert checked_values(html, "topics") == {"dringend", "verkehr"}
    assert "+49 176 •••• 5604" in html
    assert "Klaus Becker" in html
    assert WA_ID not in html
    assert "12345604" not in html
    assert "+49 176 1234" not in html
    # everything is subscribed: no consent to give
    assert 'name="consent"' not in html


@pytest.mark.django_db
def test_page_with_errors_still_hides_the_number(client: Client, citizen: Citizen) -> None:
    html = post(client, preferences_path(citizen), {"offerings": ["info"]}).content.decode()

    assert 'data-testid="form-errors"' in html
    assert WA_ID not in html
    assert "12345604" not in html


@pytest.mark.django_db
def test_adding_info_without_consent_is_refused_and_changes_nothing(
    client: Client, citizen: Citizen
) -> None:
    response = post(
        client, preferences_path(citizen), {"offerings": ["info"], "topics": ["verkehr"]}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "please tick that you agree to the consent text" in html
    assert 'aria-invalid="true"' in html
    assert subscription_states(citizen) == {}
    assert TopicSubscription.objects.count() == 0
    assert ConsentRecord.objects.count() == 0


@pytest.mark.django_db
def test_adding_info_with_consent_records_it_with_the_current_text(
    client: Client, citizen: Citizen
) -> None:
    path = preferences_path(citizen)

    response = post(
        client,
        path,
        {
            "offerings": ["info"],
            "topics": ["dringend", "verkehr"],
            "consent": "on",
            "is_16_or_older": "on",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == path
    assert subscription_states(citizen) == {"info": "active"}
    assert chosen_topics(citizen) == {"dringend", "verkehr"}
    web = ConsentRecord.Channel.WEB_FORM
    assert records_after(citizen, 0) == [
        ("requested", "info", None, web),
        ("granted", "info", None, web),
        ("topic_added", "info", "dringend", web),
        ("topic_added", "info", "verkehr", web),
    ]
    granted = ConsentRecord.objects.get(kind=ConsentRecord.Kind.GRANTED)
    assert granted.consent_text == current_consent_text()
    assert Subscription.objects.get(citizen=citizen).consent_text == current_consent_text()
    # the page after the redirect says so
    html = get(client, path).content.decode()
    assert "Your settings have been saved." in html
    assert checked_values(html, "offerings") == {"info"}


@pytest.mark.django_db
def test_info_channel_needs_a_topic(client: Client, citizen: Citizen) -> None:
    response = post(client, preferences_path(citizen), {"offerings": ["info"], "consent": "on"})

    assert response.status_code == 200
    assert "Please choose at least one topic." in response.content.decode()
    assert subscription_states(citizen) == {}
    assert ConsentRecord.objects.count() == 0


@pytest.mark.django_db
def test_removing_the_chat_withdraws_it_without_asking_for_consent(
    client: Client, info_subscriber: Citizen
) -> None:
    before = last_record_id()

    response = post(
        client,
        preferences_path(info_subscriber),
        {"offerings": ["info"], "topics": ["dringend", "verkehr"]},
    )

    assert response.status_code == 302
    assert subscription_states(info_subscriber) == {"info": "active", "chat": "ended"}
    assert records_after(info_subscriber, before) == [
        ("withdrawn", "chat", None, ConsentRecord.Channel.WEB_FORM)
    ]
    assert chosen_topics(info_subscriber) == {"dringend", "verkehr"}


@pytest.mark.django_db
def test_topic_changes_persist_and_are_recorded(client: Client, info_subscriber: Citizen) -> None:
    before = last_record_id()
    path = preferences_path(info_subscriber)

    response = post(client, path, {"offerings": ["info", "chat"], "topics": ["dringend", "stadt"]})

    assert response.status_code == 302
    assert chosen_topics(info_subscriber) == {"dringend", "stadt"}
    web = ConsentRecord.Channel.WEB_FORM
    # in the topics' display order
    assert records_after(info_subscriber, before) == [
        ("topic_removed", "info", "verkehr", web),
        ("topic_added", "info", "stadt", web),
    ]
    assert checked_values(get(client, path).content.decode(), "topics") == {"dringend", "stadt"}


@pytest.mark.django_db
def test_saving_unchanged_choices_records_nothing(client: Client, info_subscriber: Citizen) -> None:
    before = last_record_id()
    path = preferences_path(info_subscriber)

    post(client, path, {"offerings": ["info", "chat"], "topics": ["dringend", "verkehr"]})

    assert records_after(info_subscriber, before) == []
    assert "Nothing has changed." in get(client, path).content.decode()


@pytest.mark.django_db
def test_leaving_the_info_channel_keeps_the_topics_for_later(
    client: Client, info_subscriber: Citizen
) -> None:
    before = last_record_id()

    post(client, preferences_path(info_subscriber), {"offerings": ["chat"], "topics": []})

    assert subscription_states(info_subscriber) == {"info": "ended", "chat": "active"}
    assert records_after(info_subscriber, before) == [
        ("withdrawn", "info", None, ConsentRecord.Channel.WEB_FORM)
    ]
    assert chosen_topics(info_subscriber) == {"dringend", "verkehr"}


@pytest.mark.django_db
def test_leave_everything_ends_all_services(client: Client, info_subscriber: Citizen) -> None:
    before = last_record_id()
    path = preferences_path(info_subscriber)

    response = post(client, path, {"action": "leave"})

    assert response.status_code == 302
    assert response["Location"] == path
    assert subscription_states(info_subscriber) == {"info": "ended", "chat": "ended"}
    assert sorted(records_after(info_subscriber, before)) == [
        ("withdrawn", "chat", None, ConsentRecord.Channel.WEB_FORM),
        ("withdrawn", "info", None, ConsentRecord.Channel.WEB_FORM),
    ]
    html = get(client, path).content.decode()
    assert "You have left all services." in html
    assert checked_values(html, "offerings") == set()


@pytest.mark.django_db
def test_preferences_form_is_csrf_protected(info_subscriber: Citizen) -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post(preferences_path(info_subscriber), {"action": "leave"})

    assert response.status_code == 403
    assert subscription_states(info_subscriber) == {"info": "active", "chat": "active"}


# --- erasure ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_erasure_asks_for_confirmation_first(client: Client, info_subscriber: Citizen) -> None:
    token = make_token(info_subscriber, "preferences")
    preferences_html = get(client, preferences_path(info_subscriber, token)).content.decode()
    erase_path = reverse("citizens:erase", args=[token])
    assert f'href="{erase_path}"' in preferences_html

    response = get(client, erase_path)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="confirm-erase"' in html
    assert WA_ID not in html
    info_subscriber.refresh_from_db()
    assert info_subscriber.erasure_requested_at is None
    assert subscription_states(info_subscriber) == {"info": "active", "chat": "active"}


@pytest.mark.django_db
def test_confirmed_erasure_is_requested(client: Client, info_subscriber: Citizen) -> None:
    token = make_token(info_subscriber, "preferences")

    response = post(client, reverse("citizens:erase", args=[token]), {})

    assert response.status_code == 302
    assert response["Location"] == preferences_path(info_subscriber, token)
    info_subscriber.refresh_from_db()
    assert info_subscriber.erasure_requested_at is not None
    assert subscription_states(info_subscriber) == {"info": "ended", "chat": "ended"}
    assert set(
        ConsentRecord.objects.filter(kind=ConsentRecord.Kind.WITHDRAWN).values_list(
            "channel", flat=True
        )
    ) == {ConsentRecord.Channel.WEB_FORM}
    html = get(client, preferences_path(info_subscriber, token)).content.decode()
    assert 'data-testid="erasing"' in html
    assert 'data-testid="preferences-form"' not in html


@pytest.mark.django_db
def test_nothing_changes_while_the_erasure_is_pending(
    client: Client, info_subscriber: Citizen
) -> None:
    token = make_token(info_subscriber, "preferences")
    post(client, reverse("citizens:erase", args=[token]), {})
    before = last_record_id()

    post(
        client,
        preferences_path(info_subscriber, token),
        {"offerings": ["info"], "topics": ["stadt"], "consent": "on"},
    )

    assert subscription_states(info_subscriber) == {"info": "ended", "chat": "ended"}
    assert records_after(info_subscriber, before) == []
