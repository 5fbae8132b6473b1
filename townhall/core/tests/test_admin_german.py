"""The Django admin speaks German: app and model names, field labels, no English leftovers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

ENGLISH_LEFTOVERS = (
    "Weekly hourss",
    "weekly hourss",
    "Consent texts",
    "Name de",
    "Is active",
    "Citizens",
    "CITIZENS",
    "Choose members",
    "Canned responses",
    "Closed days",
)


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("admin", password="x"))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url_name",
    [
        "admin:index",
        "admin:citizens_topic_add",
        "admin:citizens_consenttext_changelist",
        "admin:inbox_team_add",
        "admin:inbox_weeklyhours_changelist",
        "admin:inbox_weeklyhours_add",
        "admin:inbox_closedday_add",
        "admin:inbox_cannedresponse_changelist",
        "admin:citysettings_citizentext_changelist",
    ],
)
def test_admin_pages_are_german(admin_client, url_name):
    page = admin_client.get(reverse(url_name), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    for leftover in ENGLISH_LEFTOVERS:
        assert leftover not in page, leftover


@pytest.mark.django_db
def test_admin_index_names_apps_and_models_in_german(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    for german in (
        "Bürgerinnen und Bürger",
        "Einwilligungstexte",
        "Öffnungszeiten",
        "Schließtage",
        "Textbausteine",
        "Posteingang",
    ):
        assert german in page, german


@pytest.mark.django_db
def test_weekly_hours_show_the_weekday_by_name(admin_client):
    from datetime import time

    from townhall.inbox.actions import do_set_office_hours

    do_set_office_hours({0: [(time(8), time(16))]}, acting_user=None)
    page = admin_client.get(reverse("admin:inbox_weeklyhours_changelist")).content.decode()
    assert "Montag" in page and "1 Öffnungszeit" in page
