from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client


@pytest.fixture
def staff_user(db: None) -> User:
    """A member of the role Büro: inbox, message log, subscribers, data requests."""
    user = User.objects.create_user(
        "sachbearbeitung", password="Rathaus-Test-2025", is_staff=True, first_name="Maria"
    )
    user.groups.add(Group.objects.get(name="Büro"))
    return user


@pytest.fixture
def staff_client(client: Client, staff_user: User) -> Client:
    client.force_login(staff_user)
    return client


@pytest.fixture
def citizen_user(db: None) -> User:
    """An account without staff rights, e.g. created for another purpose."""
    return User.objects.create_user("buerger", password="Rathaus-Test-2025")
