"""Read-side queries of the message log."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from townhall.whatsapp.models import Message, MessageStatusEvent


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    message: Message
    status_history: tuple[MessageStatusEvent, ...]


def message_log_for(wa_id: str, *, limit: int | None = None) -> list[LoggedMessage]:
    """One citizen's messages in both directions, oldest first, each with its status history.

    Two queries whatever the number of messages.
    """
    messages = Message.objects.filter(wa_id=wa_id).order_by("-created_at", "-id")
    if limit is not None:
        messages = messages[:limit]
    rows = list(reversed(list(messages)))
    provider_ids = [m.provider_id for m in rows if m.provider_id and m.direction == "out"]
    history: dict[str, list[MessageStatusEvent]] = defaultdict(list)
    if provider_ids:
        for event in MessageStatusEvent.objects.filter(provider_message_id__in=provider_ids):
            history[event.provider_message_id].append(event)
    return [
        LoggedMessage(message=m, status_history=tuple(history.get(m.provider_id or "", ())))
        for m in rows
    ]
