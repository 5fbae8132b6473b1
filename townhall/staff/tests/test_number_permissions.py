"""A phone number singles out a person: searching by it needs ``citizens.search_by_number``
and seeing it in full ``citizens.view_phone_number``, on every page where it could appear."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from townhall.core.phone_numbers import format_wa_id, mask_wa_id
from townhall.inbox.tests.factories import (
    citizen_writes,
    make_chat_citizen,
    make_staff,
    open_around_the_clock,
)

WA_ID = "4915112345601"
# Typed as a person would, in national format with a space.
TYPED_NUMBER = "0151 12345601"


@pytest.fixture
def conversation(db: None):
    open_around_the_clock()
    return citizen_writes(make_chat_citizen("Anna Schneider", wa_id=WA_ID), "Wann ist Sperrmüll?")


def login(client: Client, *permissions: str) -> Client:
    """An office member with the office's rights except the number rights, plus
    ``permissions`` (codenames of the citizens app)."""
    user = make_staff()
    office_rights = user.get_group_permissions()
    user.groups.clear()
    for right in office_rights - {"citizens.search_by_number", "citizens.view_phone_number"}:
        app_label, codename = right.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="citizens", codename__in=permissions)
    )
    client.force_login(user)
    return client


def page(client: Client, url: str) -> str:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return response.content.decode()


# --- searching by number ------------------------------------------------------------------------


def test_message_log_search_by_number_finds_nobody_without_the_permission(client, conversation):
    html = page(login(client), reverse("staff:message_log") + f"?q={TYPED_NUMBER}")

    assert "Anna Schneider" not in html
    assert 'placeholder="Search by name"' in html


def test_message_log_search_by_number_with_the_permission(client, conversation):
    html = page(
        login(client, "search_by_number"), reverse("staff:message_log") + f"?q={TYPED_NUMBER}"
    )

    assert "Anna Schneider" in html


def test_message_log_search_by_name_needs_no_permission(client, conversation):
    html = page(login(client), reverse("staff:message_log") + "?q=Schneider")

    assert "Anna Schneider" in html


def test_inbox_search_by_number_finds_nobody_without_the_permission(client, conversation):
    html = page(login(client), reverse("inbox:list") + f"?q={TYPED_NUMBER}")

    assert "Anna Schneider" not in html


def test_inbox_search_by_number_with_the_permission(client, conversation):
    html = page(login(client, "search_by_number"), reverse("inbox:list") + f"?q={TYPED_NUMBER}")

    assert "Anna Schneider" in html


def test_subscriber_search_by_number_is_refused_without_the_permission(client, conversation):
    response = login(client).get(reverse("staff:subscribers") + f"?number={TYPED_NUMBER}")

    assert response.status_code == 403


# --- seeing the full number -----------------------------------------------------------------------


def detail_urls(conversation) -> list[str]:
    citizen = conversation.citizen
    return [
        reverse("staff:citizen_log", args=[citizen.pk]),
        reverse("inbox:conversation", args=[conversation.pk]),
        reverse("staff:subscriber", args=[citizen.pk]),
    ]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["message_log", "inbox", "subscriber"])
def test_pages_show_the_number_masked_without_the_permission(client, conversation, index):
    html = page(login(client), detail_urls(conversation)[index])

    assert mask_wa_id(WA_ID) in html
    assert format_wa_id(WA_ID) not in html
    assert WA_ID not in html
    assert "tel:" not in html


@pytest.mark.parametrize("index", [0, 1, 2], ids=["message_log", "inbox", "subscriber"])
def test_pages_show_the_full_number_with_the_permission(client, conversation, index):
    html = page(login(client, "view_phone_number"), detail_urls(conversation)[index])

    assert format_wa_id(WA_ID) in html
    assert f'href="tel:+{WA_ID}"' in html
