"""Quiet hours of the info channel: when normal posts wait for the morning.

The settings page's quiet hours, else ``settings.CHANNEL["QUIET_HOURS"]``: "HH:MM-HH:MM" in the city's time zone (default
21:00-07:00); empty turns them off. Urgent alerts ignore them. Wall-clock times, so the
night of a DST change is as long as the clocks say.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from townhall.citysettings import config


def quiet_hours() -> tuple[time, time] | None:
    spec = config.quiet_hours_spec().strip()
    if not spec:
        return None
    try:
        start_text, end_text = spec.split("-")
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    except ValueError as error:
        raise ImproperlyConfigured(
            f'CHANNEL["QUIET_HOURS"] must look like 21:00-07:00, not {spec!r}'
        ) from error
    return None if start == end else (start, end)


def quiet_hours_end(now: datetime) -> datetime | None:
    """When the quiet hours around ``now`` end; None when ``now`` is not in quiet hours."""
    hours = quiet_hours()
    if hours is None:
        return None
    start, end = hours
    city = ZoneInfo(settings.TIME_ZONE)
    local = now.astimezone(city)
    wall = local.time().replace(tzinfo=None)
    if start < end:
        if not start <= wall < end:
            return None
        end_date = local.date()
    else:  # over midnight, e.g. 21:00-07:00
        if end <= wall < start:
            return None
        end_date = local.date() + timedelta(days=1) if wall >= start else local.date()
    return datetime.combine(end_date, end, tzinfo=city)
