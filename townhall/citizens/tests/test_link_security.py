"""Signed links are bearer credentials: single-use exports, an export that never outlives
24 hours, revocation on request and on erasure, and no token in any log line."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from time_machine import TimeMachineFixture

from townhall.citizens.actions import do_erase_citizen, do_record_inbound_contact
from townhall.citizens.links import TokenState, make_token, token_state
from townhall.citizens.models import Citizen, ConsentRecord
from townhall.core import clock
from townhall.inbox.tests.factories import make_staff

WA_ID = "4917612345604"


@pytest.fixture
def citizen(db: None, time_machine: TimeMachineFixture) -> Citizen:
    time_machine.move_to(clock.now(), tick=False)
    return do_record_inbound_contact(WA_ID, "Klaus Becker", clock.now())


def export_path(token: str) -> str:
    return reverse("citizens:export", args=[token])


def preferences_path(token: str) -> str:
    return reverse("citizens:preferences", args=[token])


def export_token_on_page(html: str) -> str | None:
    marker = 'href="/meine-daten/'
    if marker not in html:
        return None
    return html.split(marker, 1)[1].split("/", 1)[0]


def test_an_export_link_works_once(client: Client, citizen: Citizen) -> None:
    token = make_token(citizen, "export")

    first = client.get(export_path(token))
    second = client.get(export_path(token))

    assert first.status_code == 200
    assert first.json()["wa_id"] == WA_ID
    assert second.status_code == 410
    assert ConsentRecord.objects.filter(kind=ConsentRecord.Kind.DATA_EXPORTED).count() == 1


def test_a_new_export_link_works_after_the_first_was_used(client: Client, citizen: Citizen):
    client.get(export_path(make_token(citizen, "export")))
    citizen.refresh_from_db()

    assert client.get(export_path(make_token(citizen, "export"))).status_code == 200


def test_the_preferences_page_mints_no_export_link_after_24_hours(
    client: Client, citizen: Citizen, time_machine: TimeMachineFixture
) -> None:
    # given: the preferences link of EINSTELLUNGEN, valid for 7 days
    token = make_token(citizen, "preferences")
    # when: opened two days later
    time_machine.shift(timedelta(days=2))
    html = client.get(preferences_path(token), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # then: no download, only the way to a fresh export link
    assert export_token_on_page(html) is None
    assert 'data-testid="export-by-whatsapp"' in html


def test_an_export_link_from_the_preferences_page_expires_with_the_first_24_hours(
    client: Client, citizen: Citizen, time_machine: TimeMachineFixture
) -> None:
    # given: the page opened an hour after the preferences link was sent
    token = make_token(citizen, "preferences")
    time_machine.shift(timedelta(hours=1))
    export_token = export_token_on_page(client.get(preferences_path(token)).content.decode())
    assert export_token is not None
    # when: the export is tried 23 h 30 min after that visit
    time_machine.shift(timedelta(hours=23, minutes=30))
    # then: 24 h 30 min after the preferences link: gone
    assert client.get(export_path(export_token)).status_code == 410


def test_a_citizen_can_revoke_all_their_links(client: Client, citizen: Citizen) -> None:
    preferences_token = make_token(citizen, "preferences")
    export_token = make_token(citizen, "export")

    response = client.post(preferences_path(preferences_token), {"action": "revoke_links"})

    assert response.status_code == 200
    assert 'data-testid="links-revoked"' in response.content.decode()
    assert client.get(preferences_path(preferences_token)).status_code == 410
    assert client.get(export_path(export_token)).status_code == 410
    assert ConsentRecord.objects.filter(kind=ConsentRecord.Kind.LINKS_REVOKED).count() == 1
    # A link sent after the revocation works.
    citizen.refresh_from_db()
    assert client.get(preferences_path(make_token(citizen, "preferences"))).status_code == 200


def test_staff_can_revoke_a_citizens_links_on_request(client: Client, citizen: Citizen) -> None:
    # given
    token = make_token(citizen, "preferences")
    user = make_staff()
    user.user_permissions.add(Permission.objects.get(codename="export_citizen_data"))
    client.force_login(user)
    # when
    response = client.post(reverse("staff:subscriber_revoke_links", args=[citizen.pk]))
    # then
    assert response.status_code == 302
    assert token_state(token, "preferences") is TokenState.EXPIRED
    record = ConsentRecord.objects.get(kind=ConsentRecord.Kind.LINKS_REVOKED)
    assert (record.channel, record.acting_user) == (ConsentRecord.Channel.STAFF, user)


def test_staff_without_the_right_cannot_revoke_links(client: Client, citizen: Citizen) -> None:
    token = make_token(citizen, "preferences")
    client.force_login(make_staff())

    response = client.post(reverse("staff:subscriber_revoke_links", args=[citizen.pk]))

    assert response.status_code == 403
    assert token_state(token, "preferences") is TokenState.VALID


def test_erasure_revokes_every_link(citizen: Citizen) -> None:
    generation = citizen.link_generation

    do_erase_citizen(citizen, channel=ConsentRecord.Channel.STAFF)

    citizen.refresh_from_db()
    assert citizen.link_generation == generation + 1


@pytest.mark.parametrize("purpose", ["preferences", "export"])
@pytest.mark.parametrize("method", ["head", "options", "put"])
def test_no_signed_link_token_in_any_log_line(
    client: Client, citizen: Citizen, caplog: pytest.LogCaptureFixture, purpose: str, method: str
) -> None:
    # given: answers Django logs with their path (405 for HEAD, 404 for a mistyped link)
    caplog.set_level(logging.DEBUG)
    token = make_token(citizen, purpose)
    path = reverse(f"citizens:{purpose}", args=[token])
    # when
    getattr(client, method)(path)
    client.get(path + "x/")
    client.get(reverse(f"citizens:{purpose}", args=[token + "x"]))
    # then
    assert caplog.records
    signature = token.rsplit(":", 1)[1]
    assert signature not in caplog.text
    assert all(signature not in str(record.msg) for record in caplog.records)
    assert "[token]" in caplog.text
