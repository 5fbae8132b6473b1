"""Meta's messaging limit ("tier"): how many unique citizens may be reached with templates
(business-initiated messages) in a rolling 24 hours: 250 → 2,000 → 10,000 → 100,000 →
unlimited. Since October 2025 the limit belongs to the business portfolio and is shared by
all its numbers. Free-text messages inside a citizen's 24-hour window do not count.

Townhall counts its own template messages of the last 24 hours (queued ones included: they
are promised) against ``settings.CHANNEL["MESSAGING_LIMIT"]``. The policy (see
docs/architecture.md, "Info channel"): a normal post that needs more template recipients
than today's capacity is refused at approval with a plan (N now, the rest once the window
frees up) — unless the approver accepts the plan, then the rest is queued for the next
window automatically — and a scheduled one is held until the capacity is there; urgent
alerts are never held by the limit — they go first and may use all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Min, Q

from townhall.citysettings import config
from townhall.core import clock
from townhall.whatsapp.models import Message
from townhall.whatsapp.service_window import SERVICE_WINDOW

TIERS = (250, 2000, 10000, 100000)
UNLIMITED = "unlimited"


def messaging_limit() -> int | None:
    """The configured limit; None = unlimited."""
    value = config.messaging_limit_spec().strip().lower()
    if value == UNLIMITED:
        return None
    if value.isdigit() and int(value) in TIERS:
        return int(value)
    raise ImproperlyConfigured(
        f'CHANNEL["MESSAGING_LIMIT"] must be one of {", ".join(map(str, TIERS))} or '
        f"{UNLIMITED}, not {value!r}"
    )


def _counted_templates(now: datetime):  # type: ignore[no-untyped-def]
    """Template messages of the last 24 hours that reached or will reach Meta."""
    since = now - SERVICE_WINDOW
    return (
        Message.objects.filter(direction=Message.Direction.OUTBOUND, type="template")
        # Queued in the window, or due in it (a part deferred to a later day counts then).
        .filter(Q(created_at__gt=since) | Q(next_attempt_at__gt=since))
        .exclude(status=Message.Status.CANCELLED)
        .exclude(Q(status=Message.Status.FAILED) & Q(provider_id__isnull=True))
    )


def template_recipients_last_24h(now: datetime | None = None) -> int:
    """Unique citizens reached (or about to be) with templates in the last 24 hours."""
    return _counted_templates(now or clock.now()).values("wa_id").distinct().count()


def template_capacity_now(now: datetime | None = None) -> int | None:
    """How many more citizens templates may reach now; None = unlimited."""
    limit = messaging_limit()
    if limit is None:
        return None
    return max(0, limit - template_recipients_last_24h(now))


@dataclass(frozen=True, slots=True)
class LimitPlan:
    """What the messaging limit allows for ``needed`` template recipients."""

    needed: int
    limit: int | None
    capacity: int | None
    send_now: int
    send_later: int
    # When the oldest counted template leaves the 24-hour window (capacity grows again).
    later_from: datetime | None

    @property
    def fits(self) -> bool:
        return self.send_later == 0


def plan_for(needed: int, *, now: datetime | None = None) -> LimitPlan:
    """Split ``needed`` template recipients into what fits today and what must wait.

    Conservative: a recipient already reached in the last 24 hours would not count again
    at Meta, but is counted here.
    """
    now = now or clock.now()
    limit = messaging_limit()
    if limit is None:
        return LimitPlan(needed, None, None, needed, 0, None)
    capacity = max(0, limit - template_recipients_last_24h(now))
    send_now = min(needed, capacity)
    later_from = None
    if needed > send_now:
        oldest = _counted_templates(now).aggregate(oldest=Min("created_at"))["oldest"]
        later_from = (oldest or now) + SERVICE_WINDOW
    return LimitPlan(needed, limit, capacity, send_now, needed - send_now, later_from)
