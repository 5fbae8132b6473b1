"""Each staff member sees the navigation entries their permissions open, and no other."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from townhall.channel.tests.factories import staff


def nav_keys(client) -> list[str]:
    page = client.get(reverse("inbox:list")).content.decode()
    return re.findall(r'data-nav="([a-z_]+)"', page)


@pytest.mark.django_db
def test_staff_without_extra_permissions_see_the_daily_pages(client):
    client.force_login(staff("buero"))
    assert nav_keys(client) == [
        "inbox",
        "channel",
        "templates",
        "subscribers",
        "messages",
        "office_hours",
    ]


@pytest.mark.django_db
def test_statistics_and_settings_permissions_add_their_entries(client):
    client.force_login(
        staff("verwaltung", "citysettings.view_statistics", "citysettings.change_citysettings")
    )
    assert nav_keys(client) == [
        "dashboard",
        "inbox",
        "channel",
        "templates",
        "subscribers",
        "statistics",
        "messages",
        "settings",
    ]


@pytest.mark.django_db
def test_superusers_also_reach_the_admin_and_every_link_opens(client):
    user = User.objects.create_superuser("root", password="x")
    client.force_login(user)
    page = client.get(reverse("inbox:list")).content.decode()
    keys = re.findall(r'data-nav="([a-z_]+)"', page)
    assert keys[0] == "dashboard" and keys[-1] == "admin"
    assert "settings" in keys and "statistics" in keys
    for url in re.findall(r'<a href="([^"]+)" data-nav=', page):
        assert client.get(url, follow=True).status_code == 200, url
