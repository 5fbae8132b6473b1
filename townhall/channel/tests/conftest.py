from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps

RATE_CARD_MIGRATION = "townhall.channel.migrations.0002_rate_card_window_rules_and_meta_defaults"


@pytest.fixture
def rate_card(db: None) -> None:
    """The rate card a fresh install has (a transactional test before may have emptied it)."""
    importlib.import_module(RATE_CARD_MIGRATION).create_default_prices(django_apps, None)
