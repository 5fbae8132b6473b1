from __future__ import annotations

import importlib
from datetime import datetime, timedelta, timezone

import pytest
from django.apps import apps as django_apps

# A Wednesday morning in June, Berlin summer time: outside the default quiet hours.
WEDNESDAY_MORNING = datetime(2027, 6, 16, 10, 0, tzinfo=timezone(timedelta(hours=2)))

RATE_CARD_MIGRATION = "townhall.channel.migrations.0002_rate_card_window_rules_and_meta_defaults"


@pytest.fixture
def daytime(time_machine):
    """The clock stands (ticking) at a weekday morning, outside quiet hours."""
    time_machine.move_to(WEDNESDAY_MORNING, tick=True)
    return WEDNESDAY_MORNING


@pytest.fixture
def rate_card(db: None) -> None:
    """The rate card a fresh install has (a transactional test before may have emptied it)."""
    importlib.import_module(RATE_CARD_MIGRATION).create_default_prices(django_apps, None)
