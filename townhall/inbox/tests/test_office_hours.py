"""Office hours with NRW's public holidays and extra closed days."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from townhall.inbox.office_hours import DEFAULT_HOURS, Schedule

BERLIN = ZoneInfo("Europe/Berlin")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


@pytest.fixture
def schedule() -> Schedule:
    return Schedule(hours=DEFAULT_HOURS, closed_days=frozenset({date(2026, 11, 27)}), state="NW")


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        (local(2026, 11, 23, 8, 0), True),  # Monday 8:00
        (local(2026, 11, 23, 7, 59), False),
        (local(2026, 11, 23, 16, 0), False),  # closes at 16:00
        (local(2026, 11, 26, 17, 30), True),  # Thursday until 18:00
        (local(2026, 11, 28, 10, 0), False),  # Saturday
        (local(2026, 11, 27, 10, 0), False),  # extra closed day (Friday)
        (local(2026, 12, 25, 10, 0), False),  # Christmas, a Friday
        (local(2026, 6, 4, 10, 0), False),  # Fronleichnam: holiday in NRW, not everywhere
        (local(2026, 10, 31, 10, 0), False),  # Saturday anyway
    ],
)
def test_is_open(schedule, at, is_open):
    assert schedule.is_open(at) is is_open


def test_corpus_christi_is_open_in_a_state_without_it():
    berlin_state = Schedule(hours=DEFAULT_HOURS, state="BE")

    assert berlin_state.is_open(local(2026, 6, 4, 10, 0)) is True


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(2026, 11, 23, 6, 30), local(2026, 11, 23, 8, 0)),
        (local(2026, 11, 23, 9, 15), local(2026, 11, 23, 9, 15)),  # open now
        (local(2026, 11, 27, 9, 0), local(2026, 11, 30, 8, 0)),  # closed Friday → Monday
        (local(2026, 12, 24, 19, 0), local(2026, 12, 28, 8, 0)),  # over Christmas
        (local(2026, 12, 31, 19, 0), local(2027, 1, 4, 8, 0)),  # New Year's Day is a Friday
    ],
)
def test_next_opening(schedule, at, expected):
    assert schedule.next_opening(at) == expected


def test_closed_period_key_is_the_same_for_one_night(schedule):
    evening = schedule.closed_period_key(local(2026, 11, 23, 19, 0))
    night = schedule.closed_period_key(local(2026, 11, 24, 3, 0))
    next_evening = schedule.closed_period_key(local(2026, 11, 24, 19, 0))

    assert evening == night
    assert evening != next_evening


def test_office_seconds_count_only_opening_hours(schedule):
    # Monday 15:00 → Tuesday 9:00: one hour on Monday, one on Tuesday.
    assert schedule.office_seconds(local(2026, 11, 23, 15, 0), local(2026, 11, 24, 9, 0)) == 7200
    # Over a weekend nothing counts.
    assert schedule.office_seconds(local(2026, 11, 28, 9, 0), local(2026, 11, 29, 18, 0)) == 0


def test_several_intervals_per_day():
    split = Schedule(hours={0: ((time(8), time(12)), (time(14), time(18)))}, state="NW")

    assert split.is_open(local(2026, 11, 23, 13, 0)) is False
    assert split.next_opening(local(2026, 11, 23, 12, 30)) == local(2026, 11, 23, 14, 0)


def test_holiday_names_are_german(schedule):
    assert schedule.holiday_name(date(2026, 11, 1)) == "Allerheiligen"
