"""Reading the audit log: the filtered entries for the page and the CSV export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from townhall.audit.models import AuditEntry


@dataclass(frozen=True)
class AuditFilter:
    """Who (user name), what (action), when (local days, both included)."""

    actor_name: str = ""
    action: str = ""
    day_from: date | None = None
    day_to: date | None = None


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_entries(audit_filter: AuditFilter) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.all()
    if audit_filter.actor_name:
        entries = entries.filter(actor_name=audit_filter.actor_name)
    if audit_filter.action:
        entries = entries.filter(action=audit_filter.action)
    if audit_filter.day_from:
        entries = entries.filter(created_at__gte=_start_of(audit_filter.day_from))
    if audit_filter.day_to:
        entries = entries.filter(created_at__lt=_start_of(audit_filter.day_to + timedelta(days=1)))
    return entries.order_by("-created_at", "-id")


def actor_names() -> list[str]:
    """The user names that appear in the log, for the "who" filter."""
    return list(
        AuditEntry.objects.exclude(actor_name="")
        .order_by("actor_name")
        .values_list("actor_name", flat=True)
        .distinct()
    )
