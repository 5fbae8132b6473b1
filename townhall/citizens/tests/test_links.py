"""The signed links' states, which decide between the settings page, "expired" and "not valid"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from time_machine import TimeMachineFixture

from townhall.citizens.actions import do_record_inbound_contact
from townhall.citizens.links import TokenState, make_token, token_state
from townhall.citizens.models import Citizen
from townhall.core import clock

EIGHT_DAYS = timedelta(days=8)


@pytest.fixture
def citizen(db: None, time_machine: TimeMachineFixture) -> Citizen:
    """Klaus, who wrote just now; the clock stands still until a test moves it on."""
    time_machine.move_to(clock.now(), tick=False)
    return do_record_inbound_contact("4917612345604", "Klaus Becker", clock.now())


def test_a_fresh_token_is_valid(citizen: Citizen) -> None:
    assert token_state(make_token(citizen, "preferences"), "preferences") is TokenState.VALID


def test_a_token_is_valid_for_seven_days_and_then_expired(
    citizen: Citizen, time_machine: TimeMachineFixture
) -> None:
    token = make_token(citizen, "preferences")

    time_machine.shift(timedelta(days=7, minutes=-1))
    assert token_state(token, "preferences") is TokenState.VALID
    time_machine.shift(timedelta(minutes=2))
    assert token_state(token, "preferences") is TokenState.EXPIRED


def test_an_export_token_is_still_valid_after_an_hour_but_expired_after_a_day(
    citizen: Citizen, time_machine: TimeMachineFixture
) -> None:
    token = make_token(citizen, "export")

    time_machine.shift(timedelta(hours=1))
    assert token_state(token, "export") is TokenState.VALID
    time_machine.shift(timedelta(hours=24))
    assert token_state(token, "export") is TokenState.EXPIRED


@pytest.mark.parametrize("token", ["", "not-a-token", "1:abc:def"])
def test_garbage_is_invalid(token: str) -> None:
    assert token_state(token, "preferences") is TokenState.INVALID


def test_a_token_for_another_purpose_is_invalid_even_when_old(
    citizen: Citizen, time_machine: TimeMachineFixture
) -> None:
    old_export_token = make_token(citizen, "export")
    time_machine.shift(EIGHT_DAYS)

    assert token_state(make_token(citizen, "export"), "preferences") is TokenState.INVALID
    assert token_state(old_export_token, "preferences") is TokenState.INVALID
