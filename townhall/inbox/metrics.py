"""Read-only numbers about the inbox: response and resolution times, backlog, daily volume.

Durations are office time (``ConversationEvent.office_seconds``): the seconds of opening
hours between the conversation's (re)opening and the event, so a message sent on Friday
evening and answered on Monday at 8:05 counts five minutes.

``inbox_metrics`` runs five queries however many conversations and events there are.
Percentiles are computed in Python from one list of durations: a city hall answers a few
hundred to a few ten thousand conversations a month, which is fast to sort, and the same
code then runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from townhall.core import clock
from townhall.inbox.models import Conversation, ConversationEvent, Team

# The default period: the last 30 days, today included.
DEFAULT_PERIOD_DAYS = 30
# A longer period makes the daily chart unreadable and the duration list long; a year is
# what a yearly report needs.
MAX_PERIOD_DAYS = 366

# Conversations someone still has to act on: every state but resolved.
BACKLOG_STATES = (
    Conversation.State.NEW,
    Conversation.State.OPEN,
    Conversation.State.WAITING,
)
OPENING_KINDS = (ConversationEvent.Kind.OPENED, ConversationEvent.Kind.REOPENED)
DURATION_KINDS = (ConversationEvent.Kind.FIRST_RESPONSE, ConversationEvent.Kind.RESOLVED)


@dataclass(frozen=True, slots=True)
class Period:
    """Calendar days ``start`` to ``end`` (both included) in the city's time zone."""

    start: date
    end: date

    @classmethod
    def last_days(cls, days: int = DEFAULT_PERIOD_DAYS, today: date | None = None) -> Period:
        today = today or clock.today()
        return cls(start=today - timedelta(days=days - 1), end=today)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=offset) for offset in range(self.length)]

    @property
    def length(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as a half-open interval of aware datetimes: [first midnight, next)."""
        zone = timezone.get_current_timezone()
        return (
            datetime.combine(self.start, time.min, tzinfo=zone),
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=zone),
        )


@dataclass(frozen=True, slots=True)
class DurationStats:
    """Median and 90th percentile of office seconds; ``None`` when nothing was measured."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, values: Iterable[int]) -> DurationStats:
        ordered = sorted(values)
        return cls(
            count=len(ordered),
            median=percentile(ordered, 0.5),
            p90=percentile(ordered, 0.9),
        )


@dataclass(frozen=True, slots=True)
class GroupTimes:
    """First-response and resolution times of one staff member or one team.

    ``key`` is the user's or team's id; ``None`` for events without a recorded staff
    member (e.g. the account was deleted) or conversations without a team.
    """

    key: int | None
    name: str
    first_response: DurationStats
    resolution: DurationStats


@dataclass(frozen=True, slots=True)
class TeamBacklog:
    """Conversations of one team (``team_id`` ``None``: no team) that wait for action now."""

    team_id: int | None
    name: str
    new: int
    open: int
    waiting: int

    @property
    def total(self) -> int:
        return self.new + self.open + self.waiting


@dataclass(frozen=True, slots=True)
class DailyCounts:
    """``opened[i]`` conversations opened or reopened and ``resolved[i]`` resolved on ``days[i]``."""

    days: list[date]
    opened: list[int]
    resolved: list[int]


@dataclass(frozen=True, slots=True)
class InboxMetrics:
    period: Period
    first_response: DurationStats
    resolution: DurationStats
    by_staff: list[GroupTimes]
    by_team: list[GroupTimes]
    backlog: list[TeamBacklog]
    daily: DailyCounts

    @property
    def backlog_total(self) -> int:
        return sum(row.total for row in self.backlog)


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` percentile of sorted values, interpolated linearly between the two
    nearest ranks (like PostgreSQL's ``percentile_cont``); ``None`` for no values."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def inbox_metrics(period: Period | None = None, *, no_staff: str, no_team: str) -> InboxMetrics:
    """Every number of the metrics page for ``period`` (default: the last 30 days). Five
    queries. ``no_staff`` and ``no_team`` name the groups without a staff member or team
    (callers pass them translated)."""
    period = period or Period.last_days()
    teams = {team.pk: team.name for team in Team.objects.all()}
    # Every account, not only today's staff: former colleagues keep their name in the
    # numbers. A city hall has tens to hundreds of accounts; joining the names to every
    # event row instead cost more (~60 ms for 70,000 events).
    staff: dict[int | None, str] = {
        user.pk: user.get_full_name() or user.get_username()
        for user in get_user_model().objects.all()
    }
    team_names: dict[int | None, str] = dict(teams.items())
    team_names[None] = no_team
    staff[None] = no_staff
    by_staff, by_team, overall = _response_times(period, staff, team_names)
    return InboxMetrics(
        period=period,
        first_response=overall[ConversationEvent.Kind.FIRST_RESPONSE],
        resolution=overall[ConversationEvent.Kind.RESOLVED],
        by_staff=by_staff,
        by_team=by_team,
        backlog=backlog_by_team(teams, no_team=no_team),
        daily=daily_counts(period),
    )


def _response_times(
    period: Period, staff_names: dict[int | None, str], team_names: dict[int | None, str]
) -> tuple[list[GroupTimes], list[GroupTimes], dict[str, DurationStats]]:
    """First-response and resolution times in ``period``, overall, per staff member (the
    event's actor) and per team (the conversation's team at the time). One query, no join.

    Its cost grows with the events in the period (each duration is read once): see
    bench/README.md for a month of 1,100 conversations a day.
    """
    start, end = period.bounds()
    rows = (
        ConversationEvent.objects.filter(
            kind__in=DURATION_KINDS,
            created_at__gte=start,
            created_at__lt=end,
            office_seconds__isnull=False,
        )
        .order_by()
        .values_list("kind", "office_seconds", "actor_id", "team_id")
    )
    overall: dict[str, list[int]] = {kind: [] for kind in DURATION_KINDS}
    per_staff: dict[int | None, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    per_team: dict[int | None, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for kind, seconds, actor_id, team_id in rows:
        if seconds is None:  # excluded by the query; for the type checker
            continue
        overall[kind].append(seconds)
        per_staff[actor_id][kind].append(seconds)
        per_team[team_id][kind].append(seconds)
    return (
        _groups(per_staff, staff_names),
        _groups(per_team, team_names),
        {kind: DurationStats.of(values) for kind, values in overall.items()},
    )


def _groups(
    values: dict[int | None, dict[str, list[int]]], names: dict[int | None, str]
) -> list[GroupTimes]:
    """One row per group that has times, by name; the group without a key comes last."""
    groups = [
        GroupTimes(
            key=key,
            name=names.get(key, str(key)),
            first_response=DurationStats.of(kinds[ConversationEvent.Kind.FIRST_RESPONSE]),
            resolution=DurationStats.of(kinds[ConversationEvent.Kind.RESOLVED]),
        )
        for key, kinds in values.items()
    ]
    return sorted(groups, key=lambda group: (group.key is None, group.name.casefold()))


def backlog_by_team(teams: dict[int, str], *, no_team: str) -> list[TeamBacklog]:
    """Conversations waiting for action now, by state, for every team (with zeros) and for
    conversations without a team (last). One query; ``teams`` maps every team id to its name.
    """
    counts: dict[int | None, Mapping[str, Any]] = {
        row["team_id"]: row
        # "Not resolved", like the inbox list: the same (partial) index serves both.
        for row in Conversation.objects.exclude(state=Conversation.State.RESOLVED)
        .order_by()
        .values("team_id")
        .annotate(
            new=Count("id", filter=Q(state=Conversation.State.NEW)),
            open=Count("id", filter=Q(state=Conversation.State.OPEN)),
            waiting=Count("id", filter=Q(state=Conversation.State.WAITING)),
        )
    }
    groups: list[tuple[int | None, str]] = [
        *sorted(teams.items(), key=lambda item: item[1].casefold()),
        (None, no_team),
    ]
    rows = []
    for team_id, name in groups:
        row = counts.get(team_id, {})
        rows.append(
            TeamBacklog(
                team_id=team_id,
                name=name,
                new=row.get("new", 0),
                open=row.get("open", 0),
                waiting=row.get("waiting", 0),
            )
        )
    return rows


def daily_counts(period: Period) -> DailyCounts:
    """Conversations opened (new or reopened) and resolved on each day of ``period``, in the
    city's time zone; days without any are zero. One query."""
    start, end = period.bounds()
    per_day: dict[date, Mapping[str, Any]] = {
        row["day"]: row
        for row in ConversationEvent.objects.filter(
            kind__in=[*OPENING_KINDS, ConversationEvent.Kind.RESOLVED],
            created_at__gte=start,
            created_at__lt=end,
        )
        .order_by()
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(
            opened=Count("id", filter=Q(kind__in=OPENING_KINDS)),
            resolved=Count("id", filter=Q(kind=ConversationEvent.Kind.RESOLVED)),
        )
    }
    days = period.days
    return DailyCounts(
        days=days,
        opened=[per_day.get(day, {}).get("opened", 0) for day in days],
        resolved=[per_day.get(day, {}).get("resolved", 0) for day in days],
    )
