"""The rate card page: everyone on the staff reads it, only the permission edits it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from townhall.channel.models import MessagePrice
from townhall.channel.tests.factories import staff

pytestmark = pytest.mark.django_db

NEW_PRICE = {
    "category": "utility",
    "country": "at",
    "price": "0.0297",
    "currency": "eur",
    "valid_from": "2025-07-01",
    "charged_inside_window": "",
    "free_per_month": "0",
    "source": "Meta rate card 2025-07-01",
}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_default_rates_are_shown_with_their_source_and_what_is_in_force(
    rate_card, time_machine
) -> None:
    time_machine.move_to("2026-12-03T10:00:00+01:00", tick=False)

    html = client_for(staff("leser")).get(reverse("channel:rate_card")).content.decode()

    assert "0.1131 EUR" in html or "0,1131 EUR" in html
    assert "hello-charles.com" in html
    # Germany's October 2026 utility and service rows are in force, the July 2025 ones not.
    in_force = {
        (price.category, price.valid_from)
        for price in MessagePrice.objects.all()
        if f'data-price="{price.pk}">\n              <th scope="row">{price.get_category_display()} <span class="badge">gilt</span>'
        in html
    }
    assert in_force == {
        ("marketing", date(2025, 7, 1)),
        ("authentication", date(2025, 7, 1)),
        ("utility", date(2026, 10, 1)),
        ("service", date(2026, 10, 1)),
    }
    assert 'action="/kanal/preise/neu/"' not in html


def test_staff_without_the_permission_cannot_change_prices(rate_card) -> None:
    client = client_for(staff("leser"))
    price = MessagePrice.objects.get(category="marketing", country="DE")

    assert client.post(reverse("channel:price_add"), NEW_PRICE).status_code == 403
    assert client.get(reverse("channel:price_edit", args=[price.pk])).status_code == 403
    assert client.post(reverse("channel:price_delete", args=[price.pk])).status_code == 403
    assert MessagePrice.objects.count() == 6
    assert MessagePrice.objects.get(pk=price.pk).price == Decimal("0.1131")


def test_a_price_is_added_changed_and_removed(rate_card) -> None:
    client = client_for(staff("finanzen", "channel.change_messageprice"))

    response = client.post(reverse("channel:price_add"), NEW_PRICE)
    assert response.status_code == 302
    added = MessagePrice.objects.get(country="AT")
    assert (added.price, added.currency, added.charged_inside_window) == (
        Decimal("0.0297"),
        "EUR",
        False,
    )

    changed = client.post(
        reverse("channel:price_edit", args=[added.pk]),
        {**NEW_PRICE, "price": "0.0310", "charged_inside_window": "on"},
    )
    assert changed.status_code == 302
    added.refresh_from_db()
    assert (added.price, added.charged_inside_window) == (Decimal("0.0310"), True)

    assert client.post(reverse("channel:price_delete", args=[added.pk])).status_code == 302
    assert not MessagePrice.objects.filter(country="AT").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("country", "A1", "Ländercode aus zwei Buchstaben"),
        ("price", "-0.01", "nicht negativ"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(rate_card, field, value, message) -> None:
    client = client_for(staff("finanzen", "channel.change_messageprice"))

    response = client.post(reverse("channel:price_add"), {**NEW_PRICE, field: value})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert MessagePrice.objects.count() == 6


def test_the_same_category_market_and_date_cannot_be_added_twice(rate_card) -> None:
    client = client_for(staff("finanzen", "channel.change_messageprice"))
    duplicate = {**NEW_PRICE, "country": "DE", "category": "marketing"}

    response = client.post(reverse("channel:price_add"), duplicate)

    assert response.status_code == 400
    assert MessagePrice.objects.filter(country="DE", category="marketing").count() == 1
