"""The cost estimate: Meta's per-message prices by category and country, from the rate card."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from townhall.channel.models import MessagePrice
from townhall.channel.pricing import PlannedMessage, country_of, estimate_cost
from townhall.whatsapp.models import Message

SEPTEMBER_2026 = date(2026, 9, 15)
OCTOBER_2026 = date(2026, 10, 15)


def planned(
    *, germans_inside: int, germans_outside: int, austrians_outside: int, category: str
) -> list[PlannedMessage]:
    """Free text to citizens whose window is open, the template to everyone else."""
    return (
        [PlannedMessage(f"4915100000{index:03d}", True, None) for index in range(germans_inside)]
        + [
            PlannedMessage(f"4917600000{index:03d}", False, category)
            for index in range(germans_outside)
        ]
        + [
            PlannedMessage(f"4366400000{index:02d}", False, category)
            for index in range(austrians_outside)
        ]
    )


def add_austrian_prices() -> None:
    # As staff add a market on the rate card page.
    for category, price in (("utility", "0.0297"), ("service", "0.0000")):
        MessagePrice.objects.create(
            category=category,
            country="AT",
            price=Decimal(price),
            valid_from=date(2025, 7, 1),
            charged_inside_window=category != "utility",
            source="Test",
        )


@pytest.mark.parametrize("on", [SEPTEMBER_2026, OCTOBER_2026])
def test_seeded_case_costs_the_template_messages_only(rate_card, on: date) -> None:
    # given: 10 German citizens inside their window, 5 outside, 2 Austrians outside
    add_austrian_prices()
    messages = planned(
        germans_inside=10, germans_outside=5, austrians_outside=2, category="utility"
    )

    # when
    estimate = estimate_cost(messages, on=on)

    # then: 5 × 0.0456 + 2 × 0.0297; the free text is free (from October within the
    # 1,000 free service messages of the month)
    assert estimate.totals == {"EUR": Decimal("0.2874")}
    by_group = {(line.country, line.category): line for line in estimate.lines}
    assert by_group["DE", "service"].count == 10
    assert by_group["DE", "service"].amount == 0
    assert by_group["DE", "utility"].amount == Decimal("0.2280")
    assert by_group["AT", "utility"].amount == Decimal("0.0594")
    assert estimate.unpriced == ()


def test_markets_without_a_rate_are_reported_not_guessed(rate_card) -> None:
    messages = planned(
        germans_inside=0, germans_outside=5, austrians_outside=2, category="marketing"
    )

    estimate = estimate_cost(messages, on=SEPTEMBER_2026)

    assert estimate.totals == {"EUR": Decimal("0.5655")}
    assert estimate.unpriced_count == 2
    assert estimate.unpriced_countries == ["AT"]


def test_every_other_market_row_prices_the_rest(rate_card) -> None:
    MessagePrice.objects.create(
        category="marketing", country="", price=Decimal("0.0600"), valid_from=date(2025, 7, 1)
    )
    messages = planned(
        germans_inside=0, germans_outside=1, austrians_outside=2, category="marketing"
    )

    estimate = estimate_cost(messages, on=SEPTEMBER_2026)

    assert estimate.totals == {"EUR": Decimal("0.2331")}
    assert estimate.unpriced == ()


@pytest.mark.parametrize(
    ("on", "total"), [(SEPTEMBER_2026, Decimal("0.0000")), (OCTOBER_2026, Decimal("0.1368"))]
)
def test_utility_templates_inside_the_window_are_charged_from_october_2026(
    rate_card, on: date, total: Decimal
) -> None:
    messages = [PlannedMessage(f"4915100000{index:03d}", True, "utility") for index in range(3)]

    estimate = estimate_cost(messages, on=on)

    assert estimate.totals == {"EUR": total}


def test_the_monthly_allowance_counts_what_was_sent_this_month(rate_card) -> None:
    # given: the allowance lowered to 3 on the rate card, one text delivered this month and
    # one last month
    MessagePrice.objects.filter(category="service", valid_from=date(2026, 10, 1)).update(
        free_per_month=3
    )
    for created_at in (
        datetime(2026, 10, 2, 12, tzinfo=UTC),
        datetime(2026, 10, 1, 12, tzinfo=UTC) - timedelta(days=2),
    ):
        Message.objects.create(
            direction=Message.Direction.OUTBOUND,
            wa_id="4915199999999",
            type="text",
            text="Antwort",
            status=Message.Status.DELIVERED,
            created_at=created_at,
        )
    messages = planned(
        germans_inside=10, germans_outside=0, austrians_outside=0, category="utility"
    )

    # when
    estimate = estimate_cost(messages, on=OCTOBER_2026)

    # then: 2 of the 3 free remain; 8 × 0.0456
    (line,) = estimate.lines
    assert (line.free_count, line.charged_count) == (2, 8)
    assert estimate.totals == {"EUR": Decimal("0.3648")}


def test_a_price_change_applies_from_its_date(rate_card) -> None:
    MessagePrice.objects.create(
        category="marketing", country="DE", price=Decimal("0.1200"), valid_from=date(2027, 1, 1)
    )
    messages = planned(
        germans_inside=0, germans_outside=10, austrians_outside=0, category="marketing"
    )

    assert estimate_cost(messages, on=date(2026, 12, 31)).totals == {"EUR": Decimal("1.1310")}
    assert estimate_cost(messages, on=date(2027, 1, 1)).totals == {"EUR": Decimal("1.2000")}


@pytest.mark.parametrize(
    ("wa_id", "country"),
    [
        ("4917612345604", "DE"),
        ("436641234567", "AT"),
        ("41791234567", "CH"),
        ("12025550123", "US"),
        ("999", ""),
    ],
)
def test_country_of_a_number(wa_id: str, country: str) -> None:
    assert country_of(wa_id) == country
