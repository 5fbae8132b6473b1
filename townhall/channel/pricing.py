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

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import phonenumbers
from django.db.models import BooleanField, Case, Count, Value, When
from django.db.models.functions import Substr
from django.utils import timezone

from townhall.channel.audience import post_recipients
from townhall.channel.models import MessagePrice, Post
from townhall.channel.sending_rule import WINDOW_MARGIN
from townhall.citizens.models import Topic
from townhall.core import clock
from townhall.whatsapp.models import Message, MessageTemplate
from townhall.whatsapp.service_window import open_window_cutoff

logger = logging.getLogger(__name__)

Category = MessagePrice.Category
ANY_COUNTRY = ""
# Outbound statuses Meta charges for (an accepted message that never arrives is free).
CHARGED_STATUSES = (Message.Status.DELIVERED, Message.Status.READ, Message.Status.PLAYED)
# Country calling codes have one to three digits.
CALLING_CODE_MAX_DIGITS = 3


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
    def category_label(self) -> str:
        return str(Category(self.category).label)

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
    groups: Counter[tuple[str, str, bool]] = Counter()
    for message in messages:
        category = message.template_category or Category.SERVICE
        groups[(country_of(message.wa_id), category, message.window_open)] += 1
    return _estimate(groups, on=on or clock.today())


def country_of_calling_code_prefix(digits: str) -> str:
    """The main country of the calling code a number starts with (``"43…"`` → ``"AT"``).

    Meta prices by calling code; where several countries share one (+1, +7), their main
    country stands for all, as Meta's rate card groups them too.
    """
    for length in (1, 2, 3):
        if len(digits) >= length:
            region = phonenumbers.region_code_for_country_code(int(digits[:length]))
            if region and region != phonenumbers.UNKNOWN_REGION:
                return region
    return ANY_COUNTRY


def estimate_audience_cost(
    *,
    topics: Iterable[Topic],
    template: MessageTemplate | None,
    kind: str = Post.Kind.NORMAL,
    now: datetime | None = None,
) -> CostEstimate:
    """The cost of a post to its audience, as the sending rule sends it: free text to
    citizens whose window is open, the template to the others (none if it is not approved:
    they cannot be reached and cost nothing). One aggregate query, whatever the audience."""
    now = now or clock.now()
    cutoff = open_window_cutoff(now, open_for=WINDOW_MARGIN)
    rows = (
        post_recipients([topic.slug for topic in topics], kind)
        .annotate(
            calling_code_prefix=Substr("wa_id", 1, CALLING_CODE_MAX_DIGITS),
            window_open=Case(
                When(last_inbound_at__gt=cutoff, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
        )
        .values("calling_code_prefix", "window_open")
        .annotate(count=Count("pk"))
        .order_by()
    )
    template_category = template.category if template is not None and template.is_sendable else None
    groups: Counter[tuple[str, str, bool]] = Counter()
    for row in rows:
        category: str
        if row["window_open"]:
            category = Category.SERVICE
        elif template_category is None:
            continue
        else:
            category = template_category
        country = country_of_calling_code_prefix(row["calling_code_prefix"])
        groups[(country, category, row["window_open"])] += row["count"]
    return _estimate(groups, on=timezone.localdate(now))


def _estimate(groups: Counter[tuple[str, str, bool]], *, on: date) -> CostEstimate:
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


# --- editing the rate card ----------------------------------------------------------------------


def do_save_message_price(price: MessagePrice, *, acting_user: Any) -> MessagePrice:
    """Store a new or changed line of the rate card (validated by the caller's form)."""
    is_new = price.pk is None
    price.country = price.country.upper()
    price.currency = price.currency.upper()
    price.save()
    logger.info(
        "rate card: %s price %s (%s %s from %s) by user %s",
        "added" if is_new else "changed",
        price.pk,
        price.category,
        price.country or "*",
        price.valid_from,
        getattr(acting_user, "pk", None),
    )
    return price


def do_delete_message_price(price: MessagePrice, *, acting_user: Any) -> None:
    logger.info(
        "rate card: deleted price %s by user %s", price.pk, getattr(acting_user, "pk", None)
    )
    price.delete()
