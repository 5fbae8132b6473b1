"""The settings pages change what citizens see: office hours the auto-reply quotes, the bot's
texts, quiet hours of the channel, the city's name and the privacy contacts; the WhatsApp
secrets are stored encrypted and never shown again."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from townhall.audit.models import AuditEntry
from townhall.channel.actions import do_approve, do_save_draft, do_submit_for_approval
from townhall.channel.models import Post, PostEvent
from townhall.channel.tests.factories import (
    approved_template,
    approver,
    citizens,
    editor,
    staff,
    topics,
)
from townhall.citizens.actions import do_subscribe_directly
from townhall.citizens.models import Citizen, ConsentRecord, Offering
from townhall.citysettings.models import CitizenText, CitySettings
from townhall.inbox.models import WeeklyHours
from townhall.whatsapp.client import CloudAPIClient, get_client
from townhall.whatsapp.fast_webhook import answer_webhook_post
from townhall.whatsapp.signatures import sign

BERLIN = ZoneInfo("Europe/Berlin")
WA_ID = "4916012340077"
# A Monday evening: closed with the built-in hours (Mon 8-16).
MONDAY_EVENING = datetime(2026, 11, 23, 19, 30, tzinfo=BERLIN)
ADMIN_PERMISSION = "citysettings.change_citysettings"


def log_in_admin(client):
    client.force_login(staff("verwaltung", ADMIN_PERMISSION))
    return client


@pytest.fixture
def admin_client(client, db):
    return log_in_admin(client)


@pytest.fixture
def chat_citizen(db):
    citizen = Citizen.objects.create(wa_id=WA_ID, profile_name="Murat Yilmaz")
    do_subscribe_directly(citizen, [Offering.CHAT], channel=ConsentRecord.Channel.WHATSAPP_BUTTON)
    return citizen


def _texts(sent: list[dict]) -> list[str]:
    return [
        body.get("text", {}).get("body") or body.get("interactive", {}).get("body", {}).get("text")
        for body in sent
    ]


@pytest.mark.django_db
def test_changed_office_hours_are_quoted_by_the_auto_reply(
    admin_client, chat_citizen, deliver_inbound
):
    # given: the office now also opens on Monday evenings until 21:00, on Tuesday from 10:00
    response = admin_client.post(
        reverse("citysettings:office_hours"),
        {"day_0": "08:00-16:00, 19:00-21:00", "day_1": "10:00-12:00", "day_2": "08:00-16:00"},
    )
    assert response.status_code == 302
    assert WeeklyHours.objects.count() == 4

    # when: a citizen writes on Monday at 19:30, then at 22:00
    open_now = deliver_inbound(
        {"type": "text", "text": {"body": "Frage"}}, wa_id=WA_ID, name="Murat", at=MONDAY_EVENING
    )
    closed = deliver_inbound(
        {"type": "text", "text": {"body": "Noch eine"}},
        wa_id=WA_ID,
        name="Murat",
        at=MONDAY_EVENING + timedelta(hours=2, minutes=30),
    )

    # then: no auto-reply while open; afterwards it names Tuesday 10:00
    assert open_now == []
    [text] = _texts(closed)
    assert "Dienstag" in text and "10:00" in text

    # and the page shows staff the same hours
    page = admin_client.get(reverse("citysettings:office_hours")).content.decode()
    assert "08:00-16:00, 19:00-21:00" in page


@pytest.mark.django_db
def test_office_hours_are_visible_to_every_staff_member_but_only_admins_change_them(client):
    client.force_login(staff("buero"))
    page = client.get(reverse("citysettings:office_hours"))
    assert page.status_code == 200
    assert "08:00-16:00" in page.content.decode()  # the built-in Monday hours
    assert 'name="day_0"' not in page.content.decode()

    refused = client.post(reverse("citysettings:office_hours"), {"day_0": "09:00-10:00"})
    assert refused.status_code == 403
    assert WeeklyHours.objects.count() == 0
    assert client.get(reverse("citysettings:city")).status_code == 403
    assert client.get(reverse("citysettings:whatsapp")).status_code == 403


@pytest.mark.django_db
def test_a_closed_day_closes_the_office(admin_client, chat_citizen, deliver_inbound):
    admin_client.post(
        reverse("citysettings:closed_day_add"), {"date": "2026-11-23", "reason": "Betriebsausflug"}
    )
    sent = deliver_inbound(
        {"type": "text", "text": {"body": "Hallo"}},
        wa_id=WA_ID,
        name="Murat",
        at=datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN),
    )
    [text] = _texts(sent)
    assert "Dienstag" in text


@pytest.mark.django_db
def test_changed_bot_text_is_sent_by_the_bot_and_reset_restores_the_default(
    admin_client, deliver_inbound
):
    url = reverse("citysettings:text_save", args=["help", "de"])
    response = admin_client.post(
        url, {"help-de-text": "So geht's: START, STOP. Datenschutz: %(privacy_url)s"}
    )
    assert response.status_code == 302

    sent = deliver_inbound({"type": "text", "text": {"body": "HILFE"}}, wa_id=WA_ID, name="Anna")
    assert _texts(sent)[-1].startswith("So geht's: START, STOP. Datenschutz: http")

    admin_client.post(url, {"reset": "1"})
    assert CitizenText.objects.count() == 0
    sent = deliver_inbound({"type": "text", "text": {"body": "HILFE"}}, wa_id=WA_ID, name="Anna")
    assert _texts(sent)[-1].startswith("Befehle:")


@pytest.mark.django_db
def test_a_text_with_an_unknown_placeholder_is_refused(admin_client):
    response = admin_client.post(
        reverse("citysettings:text_save", args=["goodbye", "de"]),
        {"goodbye-de-text": "Tschüss %(name)s"},
        follow=True,
    )
    assert "%(name)s" not in [row.text for row in CitizenText.objects.all()]
    assert CitizenText.objects.count() == 0
    assert "name" in response.content.decode()


@pytest.mark.django_db
def test_changed_auto_reply_text_is_sent(admin_client, chat_citizen, deliver_inbound):
    admin_client.post(
        reverse("citysettings:text_save", args=["auto_reply", "de"]),
        {"auto_reply-de-text": "Wir sind zu. Antwort ab %(when)s."},
    )
    sent = deliver_inbound(
        {"type": "text", "text": {"body": "Hallo"}}, wa_id=WA_ID, name="Murat", at=MONDAY_EVENING
    )
    [text] = _texts(sent)
    assert text.startswith("Wir sind zu. Antwort ab Dienstag")


@pytest.mark.django_db
def test_changed_quiet_hours_hold_posts(
    client, time_machine, django_capture_on_commit_callbacks, fake_cloud_api
):
    # given: 14:00, outside the default quiet hours (21-07)
    time_machine.move_to(datetime(2027, 6, 16, 14, 0, tzinfo=BERLIN), tick=False)
    # (logged in after the time travel: the session must not have expired)
    admin_client = log_in_admin(client)
    admin_client.post(
        reverse("citysettings:channel"),
        {"quiet_hours_enabled": "on", "quiet_hours_start": "13:00", "quiet_hours_end": "15:00"},
    )
    citizens(2, topic_slugs=["veranstaltungen"], window_open=True)
    author = editor()
    post = do_save_draft(
        author=author,
        kind=Post.Kind.NORMAL,
        topics=topics("veranstaltungen"),
        versions={"de": ("Flohmarkt", "Sonntag Flohmarkt am Rathaus.")},
        template=approved_template(),
    )
    do_submit_for_approval(post, actor=author)

    with django_capture_on_commit_callbacks(execute=True):
        do_approve(post, actor=approver())

    post.refresh_from_db()
    assert post.state == Post.State.APPROVED
    assert post.events.filter(action=PostEvent.Action.HELD_QUIET_HOURS).count() == 1
    assert fake_cloud_api.requests == []


@pytest.mark.django_db
def test_turning_quiet_hours_off_lets_a_night_post_go(
    client, time_machine, django_capture_on_commit_callbacks, fake_cloud_api
):
    time_machine.move_to(datetime(2027, 6, 16, 23, 0, tzinfo=BERLIN), tick=False)
    admin_client = log_in_admin(client)
    admin_client.post(reverse("citysettings:channel"), {"messaging_limit": "10000"})
    assert CitySettings.objects.get().quiet_hours == "off"
    citizens(2, topic_slugs=["veranstaltungen"], window_open=True)
    author = editor()
    post = do_save_draft(
        author=author,
        kind=Post.Kind.NORMAL,
        topics=topics("veranstaltungen"),
        versions={"de": ("Flohmarkt", "Sonntag Flohmarkt am Rathaus.")},
        template=approved_template(),
    )
    do_submit_for_approval(post, actor=author)
    with django_capture_on_commit_callbacks(execute=True):
        do_approve(post, actor=approver())
    post.refresh_from_db()
    assert post.state in (Post.State.SENDING, Post.State.SENT)
    assert len(fake_cloud_api.requests) == 2


@pytest.mark.django_db
def test_whatsapp_secrets_are_encrypted_never_shown_and_used_by_the_transport(admin_client):
    token = "EAAG-geheimer-Zugangsschluessel-123"
    app_secret = "neues-app-geheimnis-456"
    response = admin_client.post(
        reverse("citysettings:whatsapp"),
        {
            "phone_number_id": "100000000000777",
            "business_account_id": "",
            "display_phone_number": "",
            "access_token": token,
            "app_secret": app_secret,
            "verify_token": "",
        },
    )
    assert response.status_code == 302

    # encrypted at rest
    row = CitySettings.objects.get()
    assert token not in row.access_token_encrypted and row.access_token_encrypted
    assert app_secret not in row.app_secret_encrypted
    assert row.access_token_set_at is not None

    # never rendered back, only "set on <date>"
    page = admin_client.get(reverse("citysettings:whatsapp")).content.decode()
    assert token not in page and app_secret not in page
    assert "Gesetzt am" in page

    # the transport uses them; the environment still gives what was not set
    client = CloudAPIClient.from_settings()
    assert client._http.headers["Authorization"] == f"Bearer {token}"
    assert str(client._http.base_url).endswith("/")
    assert get_client().phone_number_id == "100000000000777"
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    assert answer_webhook_post(body, sign(body, app_secret))[0] == 200
    assert answer_webhook_post(body, sign(body, "simulator-app-secret"))[0] == 403

    # saving again without typing the token keeps it
    admin_client.post(reverse("citysettings:whatsapp"), {"phone_number_id": "100000000000777"})
    assert CitySettings.objects.get().access_token_encrypted == row.access_token_encrypted


@pytest.mark.django_db
def test_city_name_colour_and_privacy_contacts_reach_the_public_pages(admin_client, client):
    admin_client.post(
        reverse("citysettings:city"),
        {
            "city_name": "Beispielheim",
            "brand_color": "#7a1f2b",
            "state": "BY",
            "observes_holidays": "",
        },
    )
    admin_client.post(
        reverse("citysettings:privacy"),
        {
            "controller_contact": "Stadt Beispielheim\nMarktplatz 1",
            "dpo_contact": "datenschutz@beispielheim.de",
        },
    )
    client.logout()
    page = client.get(reverse("citizens:privacy")).content.decode()
    assert "Stadt Beispielheim" in page
    assert "Marktplatz 1" in page and "datenschutz@beispielheim.de" in page
    assert reverse("city_theme") in page
    css = client.get(reverse("city_theme")).content.decode()
    assert "--color-primary: #7a1f2b" in css


@pytest.mark.django_db
def test_a_colour_too_light_for_white_text_is_refused(admin_client):
    response = admin_client.post(
        reverse("citysettings:city"), {"city_name": "", "brand_color": "#ffee00"}
    )
    assert response.status_code == 200
    assert not CitySettings.objects.filter(brand_color="#ffee00").exists()


@pytest.mark.django_db
def test_the_logo_is_uploaded_and_served(admin_client, client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    from django.core.files.uploadedfile import SimpleUploadedFile

    admin_client.post(
        reverse("citysettings:city"),
        {
            "city_name": "",
            "use_default_color": "on",
            "brand_color": "#0b5cad",
            "logo": SimpleUploadedFile("wappen.png", png, content_type="image/png"),
        },
    )
    response = client.get(reverse("city_logo"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == png

    refused = admin_client.post(
        reverse("citysettings:city"),
        {
            "city_name": "",
            "use_default_color": "on",
            "logo": SimpleUploadedFile(
                "x.svg", b"<svg><script/></svg>", content_type="image/svg+xml"
            ),
        },
    )
    assert refused.status_code == 200
    assert CitySettings.objects.get().logo.name.endswith(".png")


@pytest.mark.django_db
def test_a_settings_change_appears_in_the_audit_log_without_its_values(admin_client):
    admin_client.post(
        reverse("citysettings:privacy"),
        {"controller_contact": "Stadt Beispielheim", "dpo_contact": "dsb@beispielheim.de"},
    )

    entry = AuditEntry.objects.get(action=AuditEntry.Action.SETTINGS_CHANGED)
    assert (entry.target_type, entry.target_id, entry.actor.username) == (
        "citysettings",
        "privacy",
        "verwaltung",
    )
    assert entry.details["fields"] == ["controller_contact", "dpo_contact"]
    assert "Beispielheim" not in str(entry.details)
