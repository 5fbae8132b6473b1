"""Each staff member sees the navigation entries their permissions open, and no other."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

# The roles' group names as the staff app's migration creates them (web must not import staff).
OFFICE, EDITORS, ADMINISTRATION = "Büro", "Redaktion", "Administration"


def nav_keys(client, url_name: str = "inbox:list") -> list[str]:
    page = client.get(reverse(url_name)).content.decode()
    return re.findall(r'data-nav="([a-z_]+)"', page)


def member_of(*role_names: str) -> User:
    user = User.objects.create_user("mitglied", password="x", is_staff=True)
    user.groups.add(*Group.objects.filter(name__in=role_names))
    return User.objects.get(pk=user.pk)  # fresh permission cache


@pytest.mark.django_db
def test_the_office_sees_its_daily_pages_and_no_settings(client):
    client.force_login(member_of(OFFICE))
    assert nav_keys(client) == [
        "dashboard",
        "inbox",
        "templates",
        "subscribers",
        "statistics",
        "messages",
        "office_hours",
    ]


@pytest.mark.django_db
def test_the_editors_see_the_channel_but_not_the_inbox(client):
    client.force_login(member_of(EDITORS))
    assert nav_keys(client, "channel:posts") == ["channel", "templates", "office_hours"]


@pytest.mark.django_db
def test_administration_sees_settings_audit_and_admin(client):
    client.force_login(member_of(ADMINISTRATION))
    assert nav_keys(client, "citysettings:city") == ["settings", "audit", "admin"]


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
