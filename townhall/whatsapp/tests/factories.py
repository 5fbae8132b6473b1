"""Test data for the staff pages.

Citizens are made through the citizens action; messages and status events are plain rows,
shaped like the ones the WhatsApp worker stores.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from townhall.citizens.actions import do_record_inbound_contact
from townhall.citizens.models import Citizen
from townhall.whatsapp.models import Message, MessageStatusEvent

BASE_TIME = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
_provider_ids = itertools.count(1)


def next_provider_id() -> str:
    return f"wamid.test-{next(_provider_ids)}"


def make_citizen(
    wa_id: str = "4917612345604", profile_name: str = "Klaus Becker", at: datetime = BASE_TIME
) -> Citizen:
    return do_record_inbound_contact(wa_id, profile_name, at)


def make_inbound(
    citizen: Citizen,
    text: str = "Hallo Rathaus",
    *,
    at: datetime = BASE_TIME,
    type: str = "text",
    content: dict[str, Any] | None = None,
    context_provider_id: str = "",
) -> Message:
    content = content if content is not None else {"body": text}
    return Message.objects.create(
        provider_id=next_provider_id(),
        direction=Message.Direction.INBOUND,
        wa_id=citizen.wa_id,
        profile_name=citizen.profile_name,
        type=type,
        text=text,
        payload={"type": type, type: content},
        context_provider_id=context_provider_id,
        status=Message.Status.RECEIVED,
        created_at=at,
        status_updated_at=at,
        handled_at=at,
    )


def make_outbound(
    citizen: Citizen,
    text: str = "Guten Tag, vielen Dank für Ihre Nachricht.",
    *,
    at: datetime = BASE_TIME,
    statuses: tuple[str, ...] = ("sent", "delivered", "read"),
    error: tuple[int, str] | None = None,
) -> Message:
    """An outbound text that received ``statuses`` as webhooks, one minute apart."""
    final_status = statuses[-1] if statuses else Message.Status.QUEUED
    message = Message.objects.create(
        provider_id=next_provider_id() if statuses else None,
        direction=Message.Direction.OUTBOUND,
        wa_id=citizen.wa_id,
        type="text",
        text=text,
        payload={"type": "text", "text": {"body": text, "preview_url": False}},
        status=final_status,
        error_code=error[0] if error else None,
        error_title=error[1] if error else "",
        attempts=1 if statuses else 0,
        created_at=at,
        status_updated_at=at + timedelta(minutes=len(statuses)),
    )
    for index, status in enumerate(statuses, start=1):
        errors = [{"code": error[0], "title": error[1]}] if status == "failed" and error else []
        MessageStatusEvent.objects.create(
            provider_message_id=message.provider_id,
            status=status,
            recipient_wa_id=citizen.wa_id,
            occurred_at=at + timedelta(minutes=index),
            errors=errors,
        )
    return message


def make_conversations(count: int, *, messages_each: int = 2) -> list[Citizen]:
    """``count`` citizens, each with alternating inbound and outbound messages."""
    citizens = []
    for index in range(count):
        at = BASE_TIME + timedelta(hours=index)
        citizen = make_citizen(f"49151{index:08d}", f"Bürger {index}", at)
        for message_index in range(messages_each):
            message_at = at + timedelta(minutes=message_index)
            if message_index % 2:
                make_outbound(citizen, f"Antwort {index}.{message_index}", at=message_at)
            else:
                make_inbound(citizen, f"Frage {index}.{message_index}", at=message_at)
        citizens.append(citizen)
    return citizens
