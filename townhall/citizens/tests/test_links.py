"""The signed links' states, which decide between the settings page, "expired" and "not valid"."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from unittest.mock import patch

import pytest

from townhall.citizens.actions import do_record_inbound_contact
from townhall.citizens.links import TokenState, make_token, token_state
from townhall.citizens.models import Citizen

EIGHT_DAYS = 8 * 24 * 3600


@pytest.fixture
def citizen(db: None) -> Citizen:
    return do_record_inbound_contact(
        "4917612345604", "Klaus Becker", datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    )


def test_a_fresh_token_is_valid(citizen: Citizen) -> None:
    assert token_state(make_token(citizen, "preferences"), "preferences") is TokenState.VALID


def test_an_old_token_is_expired(citizen: Citizen) -> None:
    with patch("time.time", return_value=time.time() - EIGHT_DAYS):
        token = make_token(citizen, "preferences")

    assert token_state(token, "preferences") is TokenState.EXPIRED


def test_an_export_token_is_still_valid_after_an_hour_but_expired_after_a_day(
    citizen: Citizen,
) -> None:
    with patch("time.time", return_value=time.time() - 3600):
        hour_old = make_token(citizen, "export")
    with patch("time.time", return_value=time.time() - 25 * 3600):
        day_old = make_token(citizen, "export")

    assert token_state(hour_old, "export") is TokenState.VALID
    assert token_state(day_old, "export") is TokenState.EXPIRED


@pytest.mark.parametrize("token", ["", "not-a-token", "1:abc:def"])
def test_garbage_is_invalid(token: str) -> None:
    assert token_state(token, "preferences") is TokenState.INVALID


def test_a_token_for_another_purpose_is_invalid_even_when_old(citizen: Citizen) -> None:
    with patch("time.time", return_value=time.time() - EIGHT_DAYS):
        old_export_token = make_token(citizen, "export")

    assert token_state(make_token(citizen, "export"), "preferences") is TokenState.INVALID
    assert token_state(old_export_token, "preferences") is TokenState.INVALID
