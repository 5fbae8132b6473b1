"""What a post will cost, estimated from the editable rate card (``MessagePrice``).

Meta charges per delivered message (since 1 July 2025), by pricing category and by the
country of the recipient's number. Its rules change, so they are rows, not code: each
``MessagePrice`` row says, from its ``valid_from`` date, the price of a category in one
market (or every other market), whether the category is charged inside the citizen's open
24-hour window, and how many messages of it are free each month. The row in force on a day is
the latest one valid by then; a market without a row of its own uses the "every other
market" row, and without that the recipients are reported as not priced.

The estimate assumes every message is delivered: Meta charges nothing for undelivered ones,
so the real bill can only be lower.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

import phonenumbers
from django.utils import timezone

from townhall.channel.models import MessagePrice
from townhall.core import clock
from townhall.whatsapp.models import Message

Category = MessagePrice.Category
ANY_COUNTRY = ""
# Outbound statuses Meta charges for (an accepted message that never arrives is free).
CHARGED_STATUSES = (Message.Status.DELIVERED, Message.Status.READ, Message.Status.PLAYED)


def country_of(wa_id: str) -> str:
    """The ISO country code of a WhatsApp number (``"DE"`` for ``4917…``), "" if unknown.

    Meta prices by the number's country calling code; numbers sharing a calling code (+1) are
    told apart by their area code, as phonenumbers does.
    """
    try:
        number = phonenumbers.parse(f"+{wa_id}")
    except phonenumbers.NumberParseException:
        return ANY_COUNTRY
    return phonenumbers.region_code_for_number(number) or ANY_COUNTRY


@dataclass(frozen=True)
class PlannedMessage:
    """One message a post will send: to whom (their number) and how."""

    wa_id: str
    window_open: bool
    # The template's pricing category; None for free text inside the window.
    template_category: str | None


@dataclass(frozen=True)
class CostLine:
    """The messages of one category to one market, inside or outside the window."""

    country: str
    category: str
    window_open: bool
    count: int
    # Of ``count``: free by the category's monthly allowance, or free inside the window.
    free_count: int
    unit_price: Decimal
    currency: str

    @property
    def charged_count(self) -> int:
        return self.count - self.free_count

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.charged_count


@dataclass(frozen=True)
class UnpricedGroup:
    country: str
    category: str
    count: int


@dataclass(frozen=True)
class CostEstimate:
    on: date
    lines: tuple[CostLine, ...]
    unpriced: tuple[UnpricedGroup, ...]

    @property
    def totals(self) -> dict[str, Decimal]:
        """The estimated amount per currency (one entry unless the rate card mixes them)."""
        totals: dict[str, Decimal] = {}
        for line in self.lines:
            totals[line.currency] = totals.get(line.currency, Decimal(0)) + line.amount
        return totals

    @property
    def unpriced_count(self) -> int:
        return sum(group.count for group in self.unpriced)

    @property
    def unpriced_countries(self) -> list[str]:
        return sorted({group.country or "?" for group in self.unpriced})


def prices_in_force(on: date) -> dict[tuple[str, str], MessagePrice]:
    """The rate card's row in force on ``on`` per (category, country), in one query."""
    rows = MessagePrice.objects.filter(valid_from__lte=on).order_by("-valid_from", "-id")
    in_force: dict[tuple[str, str], MessagePrice] = {}
    for row in rows:
        in_force.setdefault((row.category, row.country), row)
    return in_force


def _price_for(
    in_force: dict[tuple[str, str], MessagePrice], category: str, country: str
) -> MessagePrice | None:
    return in_force.get((category, country)) or in_force.get((category, ANY_COUNTRY))


def used_this_month(category: str, *, on: date) -> int:
    """Messages of ``category`` already charged this calendar month, against its allowance.

    Our message rows do not record a template's category, so for template categories every
    template this month counts: the estimate leans towards too little free, never too much.
    """
    month_start = timezone.make_aware(datetime.combine(on.replace(day=1), time.min))
    sent = Message.objects.filter(
        direction=Message.Direction.OUTBOUND,
        status__in=CHARGED_STATUSES,
        created_at__gte=month_start,
    )
    if category == Category.SERVICE:
        return sent.exclude(type="template").count()
    return sent.filter(type="template").count()


def estimate_cost(messages: Iterable[PlannedMessage], *, on: date | None = None) -> CostEstimate:
    """The cost of sending ``messages`` on ``on`` (today by default), by the rate card."""
    on = on or clock.today()
    groups: Counter[tuple[str, str, bool]] = Counter()
    for message in messages:
        category = message.template_category or Category.SERVICE
        groups[(country_of(message.wa_id), category, message.window_open)] += 1

    in_force = prices_in_force(on)
    allowance_left: dict[str, int] = {}
    lines: list[CostLine] = []
    unpriced: list[UnpricedGroup] = []
    # Largest groups first, so a monthly allowance goes to the home market.
    for (country, category, window_open), count in sorted(
        groups.items(), key=lambda item: (-item[1], item[0])
    ):
        row = _price_for(in_force, category, country)
        if row is None:
            unpriced.append(UnpricedGroup(country=country, category=category, count=count))
            continue
        if window_open and not row.charged_inside_window:
            free_count = count
        else:
            if category not in allowance_left:
                allowance_left[category] = (
                    max(0, row.free_per_month - used_this_month(category, on=on))
                    if row.free_per_month
                    else 0
                )
            free_count = min(count, allowance_left[category])
            allowance_left[category] -= free_count
        lines.append(
            CostLine(
                country=country,
                category=category,
                window_open=window_open,
                count=count,
                free_count=free_count,
                unit_price=row.price,
                currency=row.currency,
            )
        )
    return CostEstimate(on=on, lines=tuple(lines), unpriced=tuple(unpriced))
