"""Test data for the inbox pages, built through the real actions.

Citizens subscribe to the chat through the citizens' actions; their messages are rows shaped
like the ones the WhatsApp worker stores (``townhall.whatsapp.tests.factories.make_inbound``),
handed to the inbox as the worker's handler would.
"""

from __future__ import annotations

import itertools
from datetime import datetime, time
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from townhall.citizens.actions import do_record_inbound_contact, do_subscribe_directly
from townhall.citizens.models import Citizen, ConsentRecord, Offering
from townhall.inbox.actions import do_receive_chat_message
from townhall.inbox.models import Conversation, WeeklyHours
from townhall.whatsapp.tests.factories import make_inbound

PASSWORD = "Rathaus-Test-2026"
_numbers = itertools.count(1)


def open_around_the_clock() -> None:
    """Office hours on every day, all day: no auto-replies interfere with the tests."""
    WeeklyHours.objects.bulk_create(
        WeeklyHours(weekday=weekday, opens=time(0), closes=time(23, 59, 59, 999999))
        for weekday in range(7)
    )


def make_staff(username: str = "sachbearbeitung", **fields: Any) -> Any:
    fields.setdefault("first_name", "Maria")
    fields.setdefault("last_name", "Schulz")
    """A member of the role Büro (the inbox); the role comes from the staff app's data
    migration (townhall.staff.roles)."""
    user = get_user_model().objects.create_user(
        username, password=PASSWORD, is_staff=True, **fields
    )
    user.groups.add(Group.objects.get(name="Büro"))
    return user


def make_chat_citizen(
    name: str = "Klaus Becker", *, wa_id: str | None = None, at: datetime | None = None
) -> Citizen:
    """A citizen who subscribed to the chat with the mayor's office."""
    wa_id = wa_id or f"4917{next(_numbers):09d}"
    citizen = do_record_inbound_contact(wa_id, name, at or timezone.now())
    do_subscribe_directly(citizen, [Offering.CHAT], channel=ConsentRecord.Channel.WHATSAPP_BUTTON)
    return citizen


def citizen_writes(
    citizen: Citizen,
    text: str = "Hallo Rathaus",
    *,
    at: datetime | None = None,
    type: str = "text",
    content: dict[str, Any] | None = None,
) -> Conversation:
    """A message from ``citizen`` arrives in the inbox, as the worker's handler puts it."""
    at = at or timezone.now()
    do_record_inbound_contact(citizen.wa_id, citizen.profile_name, at)
    message = make_inbound(citizen, text, at=at, type=type, content=content)
    return do_receive_chat_message(citizen, message)


def make_conversation(
    name: str = "Klaus Becker", text: str = "Hallo Rathaus", *, at: datetime | None = None
) -> Conversation:
    return citizen_writes(make_chat_citizen(name, at=at), text, at=at)
