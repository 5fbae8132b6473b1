"""Meta's customer service window, the one definition every app uses.

Free-form messages (text, media, interactive) reach a citizen only within 24 hours of the
citizen's last message to us; outside it only approved templates are delivered.
https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages#customer-service-windows
"""

from __future__ import annotations

from datetime import datetime, timedelta

from townhall.core import clock

SERVICE_WINDOW = timedelta(hours=24)


def service_window_closes_at(last_inbound_at: datetime | None) -> datetime | None:
    """When free-form messages stop being accepted; None if the citizen never wrote."""
    if last_inbound_at is None:
        return None
    return last_inbound_at + SERVICE_WINDOW


def is_within_service_window(last_inbound_at: datetime | None, now: datetime | None = None) -> bool:
    closes_at = service_window_closes_at(last_inbound_at)
    return closes_at is not None and (now or clock.now()) < closes_at


def open_window_cutoff(
    now: datetime | None = None, *, open_for: timedelta = timedelta()
) -> datetime:
    """For queries over many citizens: the window is open (and stays open ``open_for``
    longer) exactly when the last inbound message is later than this instant; the same rule
    as ``is_within_service_window``."""
    return (now or clock.now()) + open_for - SERVICE_WINDOW
