"""Which logged messages are a citizen's talk with the bot, for pages that fold them away.

Staff read a conversation for what the citizen asked the office; START, HILFE, MEINE DATEN
and the bot's answers are bookkeeping. ``group_bot_exchanges`` turns each run of such
messages, starting with the citizen's command, into one group that pages show as one line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from townhall.citizens.keywords import match_keyword
from townhall.citizens.routing import BOT_CHOICE_PREFIXES
from townhall.whatsapp.models import Message
from townhall.whatsapp.policy import Purpose

Item = TypeVar("Item")


@dataclass(frozen=True)
class BotExchange(Generic[Item]):
    """Consecutive items of a talk with the bot; ``command`` is what the citizen sent first."""

    items: tuple[Item, ...]
    command: str
    first_message_id: int
    at: datetime

    # Templates cannot ask for a type; every other item lacks this attribute.
    is_bot_exchange = True


def _reply_id(message: Message) -> str:
    if message.type == "interactive":
        interactive = message.payload.get("interactive") or {}
        for kind in ("button_reply", "list_reply"):
            reply = interactive.get(kind)
            if isinstance(reply, dict):
                return str(reply.get("id", ""))
    return ""


def is_bot_command(message: Message) -> bool:
    """An inbound keyword (START, HILFE …) or a tap on one of the bot's buttons or lists."""
    if message.direction != Message.Direction.INBOUND:
        return False
    if message.type == "text":
        return match_keyword(message.text) is not None
    return _reply_id(message).startswith(BOT_CHOICE_PREFIXES)


def is_bot_answer(message: Message) -> bool:
    return (
        message.direction == Message.Direction.OUTBOUND and message.purpose == Purpose.SERVICE_REPLY
    )


def group_bot_exchanges(
    items: Sequence[Item], message_of: Callable[[Item], Message | None]
) -> list[Item | BotExchange[Item]]:
    """``items`` in order, each run that starts with a bot command and goes on with bot
    answers and further commands replaced by one ``BotExchange``."""
    result: list[Item | BotExchange[Item]] = []
    run: list[Item] = []
    first: Message | None = None

    def close_run() -> None:
        if run and first is not None:
            result.append(
                BotExchange(
                    items=tuple(run),
                    command=first.text,
                    first_message_id=first.pk,
                    at=first.created_at,
                )
            )
        run.clear()

    for item in items:
        message = message_of(item)
        if message is not None and (is_bot_command(message) or (run and is_bot_answer(message))):
            if not run:
                first = message
            run.append(item)
        else:
            close_run()
            result.append(item)
    close_run()
    return result
