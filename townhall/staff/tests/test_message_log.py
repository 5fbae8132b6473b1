import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from townhall.staff.conversations import MESSAGE_LOG_PAGE_SIZE
from townhall.whatsapp.tests.factories import (
    BASE_TIME,
    make_citizen,
    make_conversations,
    make_inbound,
    make_outbound,
)

MESSAGE_LOG_URL = reverse("staff:message_log")


def visible_html(response) -> str:
    """The page without link targets, where the wa_id necessarily appears."""
    return re.sub(r'(href|hx-get|hx-post|action)="[^"]*"', "", response.content.decode())


@pytest.mark.django_db
def test_lists_each_citizen_with_masked_number_counts_and_last_status(
    staff_client: Client,
) -> None:
    # given
    klaus = make_citizen("4917612345604", "Klaus Becker")
    make_inbound(klaus, "Baustellenlärm in der Bahnhofstraße", at=BASE_TIME)
    make_outbound(klaus, "Das Ordnungsamt ist informiert.", at=BASE_TIME + timedelta(minutes=5))
    make_inbound(klaus, "Danke!", at=BASE_TIME + timedelta(minutes=9))
    anna = make_citizen("4915112345601", "Anna Schneider")
    make_inbound(anna, "Schlagloch in der Hauptstraße", at=BASE_TIME + timedelta(hours=1))
    make_citizen("4916012345602", "Ohne Nachrichten")

    # when
    response = staff_client.get(MESSAGE_LOG_URL)

    # then
    assert response.status_code == 200
    rows = response.context["page"].object_list
    assert [row.citizen.profile_name for row in rows] == ["Anna Schneider", "Klaus Becker"]
    assert [(row.inbound_count, row.outbound_count) for row in rows] == [(1, 0), (2, 1)]
    assert rows[1].last_message.text == "Danke!"
    assert rows[1].last_outbound.status == "read"
    html = visible_html(response)
    assert "+49 176 •••• 5604" in html
    assert "+49 1511 •••• 5601" in html
    assert "4917612345604" not in html
    assert "12345604" not in html
    assert "Danke!" in html
    assert "ticks--read" in html
    assert "Ohne Nachrichten" not in html


@pytest.mark.django_db
def test_shows_failed_last_reply_and_message_type_badge(staff_client: Client) -> None:
    citizen = make_citizen("4917012345607", "Julia Fischer")
    make_outbound(citizen, "Antwort", statuses=("failed",), error=(131026, "Message undeliverable"))
    make_inbound(
        citizen,
        "Spielplatz Lindenallee",
        at=BASE_TIME + timedelta(minutes=3),
        type="location",
        content={"latitude": 51.5, "longitude": 7.4, "name": "Spielplatz Lindenallee"},
    )

    html = staff_client.get(MESSAGE_LOG_URL).content.decode()

    assert "ticks--failed" in html
    assert "131026" in html
    assert "Fehlgeschlagen" in html
    assert '<span class="badge">Standort</span>' in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("becker", ["Klaus Becker"]),
        ("Anna", ["Anna Schneider"]),
        ("5604", ["Klaus Becker"]),
        ("+49 176 1234", ["Klaus Becker"]),
        ("0176 12345604", ["Klaus Becker"]),
        ("0049 1511 2345601", ["Anna Schneider"]),
        ("491", ["Anna Schneider", "Klaus Becker"]),
        ("Müller", []),
    ],
)
def test_search_by_name_or_number(
    staff_client: Client, staff_user, search: str, expected: list[str]
) -> None:
    # Searching by number needs the permission (test_number_permissions.py: without it).
    staff_user.user_permissions.add(Permission.objects.get(codename="search_by_number"))
    klaus = make_citizen("4917612345604", "Klaus Becker")
    make_inbound(klaus, at=BASE_TIME)
    anna = make_citizen("4915112345601", "Anna Schneider")
    make_inbound(anna, at=BASE_TIME + timedelta(hours=1))

    response = staff_client.get(MESSAGE_LOG_URL, {"q": search})

    names = [row.citizen.profile_name for row in response.context["page"].object_list]
    assert names == expected
    assert response.context["search"] == search


@pytest.mark.django_db
def test_search_without_result_says_so(staff_client: Client) -> None:
    make_inbound(make_citizen("4917612345604", "Klaus Becker"))

    response = staff_client.get(MESSAGE_LOG_URL, {"q": "Müller"})

    assert "Keine Unterhaltung passt zu „Müller“." in response.content.decode()


@pytest.mark.django_db
def test_htmx_search_returns_only_the_list(staff_client: Client) -> None:
    make_inbound(make_citizen("4917612345604", "Klaus Becker"))

    response = staff_client.get(
        MESSAGE_LOG_URL,
        {"q": "Klaus"},
        headers={"HX-Request": "true", "HX-Target": "conversation-list"},
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<section id="conversation-list"')
    assert "Klaus Becker" in html
    assert "<html" not in html


@pytest.mark.django_db
def test_empty_log_explains_where_conversations_come_from(staff_client: Client) -> None:
    response = staff_client.get(MESSAGE_LOG_URL)

    assert response.context["page"].paginator.count == 0
    assert "Noch keine Nachrichten." in response.content.decode()


@pytest.mark.django_db
def test_paginates_by_fifty(staff_client: Client) -> None:
    make_conversations(MESSAGE_LOG_PAGE_SIZE + 1, messages_each=1)

    first = staff_client.get(MESSAGE_LOG_URL)
    second = staff_client.get(MESSAGE_LOG_URL, {"page": 2})

    assert len(first.context["page"].object_list) == 50
    assert len(second.context["page"].object_list) == 1
    # Most recent first: citizen 50 wrote last, citizen 0 first.
    assert first.context["page"].object_list[0].citizen.profile_name == "Bürger 50"
    assert second.context["page"].object_list[0].citizen.profile_name == "Bürger 0"
    assert "Seite 1 von 2" in first.content.decode()


def count_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(MESSAGE_LOG_URL)
    assert response.status_code == 200
    return len(context.captured_queries)


@pytest.mark.django_db
def test_number_of_queries_does_not_grow_with_the_number_of_citizens(
    staff_client: Client, django_assert_max_num_queries
) -> None:
    # given
    make_conversations(3)
    queries_for_three = count_queries(staff_client)
    make_conversations(30)

    # when / then
    with django_assert_max_num_queries(queries_for_three):
        response = staff_client.get(MESSAGE_LOG_URL)
    assert len(response.context["page"].object_list) == 30
    assert count_queries(staff_client) == queries_for_three
