"""When the mayor's office is staffed: weekly hours, the state's public holidays, closed days.

All inputs and outputs are timezone-aware datetimes; the schedule itself is in the city's
local time (settings.TIME_ZONE), where "8 to 16 o'clock" is meant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings

# Typical German city hall hours, used until the admin sets others.
DEFAULT_HOURS: dict[int, tuple[tuple[time, time], ...]] = {
    0: ((time(8), time(16)),),
    1: ((time(8), time(16)),),
    2: ((time(8), time(16)),),
    3: ((time(8), time(18)),),
    4: ((time(8), time(12)),),
}
# How far ahead we look for the next opening (covers Christmas to New Year and more).
SEARCH_DAYS = 60


@dataclass(frozen=True)
class Schedule:
    hours: dict[int, tuple[tuple[time, time], ...]]
    closed_days: frozenset[date] = frozenset()
    state: str = "NW"
    observes_holidays: bool = True
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(settings.TIME_ZONE))

    @classmethod
    def load(cls) -> Schedule:
        """The schedule as configured in the database (defaults when none is set)."""
        from townhall.citysettings import config
        from townhall.inbox.models import ClosedDay, WeeklyHours

        hours: dict[int, list[tuple[time, time]]] = {}
        for row in WeeklyHours.objects.all():
            hours.setdefault(row.weekday, []).append((row.opens, row.closes))
        return cls(
            hours={day: tuple(sorted(spans)) for day, spans in hours.items()} or DEFAULT_HOURS,
            closed_days=frozenset(ClosedDay.objects.values_list("date", flat=True)),
            state=config.city_state(),
            observes_holidays=config.observes_holidays(),
        )

    def holiday_name(self, day: date) -> str | None:
        names = holidays.country_holidays("DE", subdiv=self.state, years=day.year, language="de")
        return names.get(day)

    def holidays_between(self, first: date, last: date) -> list[tuple[date, str]]:
        """The public holidays from ``first`` to ``last`` (both included), for the staff page."""
        names = holidays.country_holidays(
            "DE", subdiv=self.state, years=range(first.year, last.year + 1), language="de"
        )
        return sorted((day, name) for day, name in names.items() if first <= day <= last)

    def is_closed_day(self, day: date) -> bool:
        if day in self.closed_days:
            return True
        return self.observes_holidays and self.holiday_name(day) is not None

    def _spans(self, day: date) -> Iterable[tuple[datetime, datetime]]:
        if self.is_closed_day(day):
            return ()
        return tuple(
            (
                datetime.combine(day, opens, tzinfo=self.timezone),
                datetime.combine(day, closes, tzinfo=self.timezone),
            )
            for opens, closes in self.hours.get(day.weekday(), ())
        )

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.timezone)
        return any(start <= local < end for start, end in self._spans(local.date()))

    def next_opening(self, at: datetime) -> datetime | None:
        """The first moment at or after ``at`` when the office is open."""
        local = at.astimezone(self.timezone)
        for offset in range(SEARCH_DAYS):
            day = local.date() + timedelta(days=offset)
            for start, end in self._spans(day):
                if local < end:
                    return max(start, local)
        return None

    def closed_period_key(self, at: datetime) -> str:
        """The same key for every moment of one closed period: its end, the next opening."""
        opening = self.next_opening(at)
        return opening.isoformat() if opening else "closed"

    def office_seconds(self, start: datetime, end: datetime) -> int:
        """Seconds of opening hours between ``start`` and ``end``: response times count only
        the time someone could have answered."""
        if end <= start:
            return 0
        local_start = start.astimezone(self.timezone)
        local_end = end.astimezone(self.timezone)
        total = 0.0
        day = local_start.date()
        while day <= local_end.date():
            for span_start, span_end in self._spans(day):
                overlap = min(span_end, local_end) - max(span_start, local_start)
                total += max(overlap.total_seconds(), 0)
            day += timedelta(days=1)
        return int(total)
