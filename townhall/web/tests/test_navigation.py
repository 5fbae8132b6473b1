"""Each staff member sees the navigation entries their permissions open, and no other."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse


def nav_keys(client) -> list[str]:
    # The office hours page: every staff member may read it, whatever their role.
    page = client.get(reverse("citysettings:office_hours")).content.decode()
    return re.findall(r'data-nav="([a-z_]+)"', page)


def member(username: str, role: str, *permissions: str) -> User:
    user = User.objects.create_user(username, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


@pytest.mark.django_db
def test_the_office_sees_its_daily_pages(client):
    client.force_login(member("buero", "Büro"))
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
def test_the_editors_see_the_channel_only(client):
    client.force_login(member("redaktion", "Redaktion"))
    assert nav_keys(client) == ["channel", "templates", "office_hours"]


@pytest.mark.django_db
def test_statistics_and_settings_permissions_add_their_entries(client):
    client.force_login(
        member(
            "redaktion",
            "Redaktion",
            "citysettings.view_statistics",
            "citysettings.change_citysettings",
        )
    )
    assert nav_keys(client) == ["dashboard", "channel", "templates", "settings"]


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
