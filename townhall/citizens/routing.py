"""Who answers an inbound message: the bot, the mayor's office (inbox), or nobody.

Both the bot and the inbox ask this one function, so a message is never answered twice
and never falls between them.
"""

from __future__ import annotations

import enum

from django.conf import settings

from townhall.citizens.keywords import match_keyword, referral_code
from townhall.citizens.models import BotSession, Citizen, Offering, Subscription
from townhall.core import clock
from townhall.whatsapp.types import InboundMessage

# Interactive ids the bot sends; taps on them are the bot's business, like the kinds of
# ``settings.BOT_CHOICE_HANDLERS`` (poll answers), which the bot hands to their app.
BOT_CHOICE_PREFIXES = ("offer:", "consent:", "topic:", "erase:", "cmd:", "notify:")
# Messages that ask nothing; answering them automatically could start a loop.
SILENT_TYPES = frozenset({"reaction", "system", "unsupported", "unknown", "order"})


class Route(enum.Enum):
    BOT = "bot"
    OFFICE = "office"
    # For the office although the citizen left the chat (only if the city wants that).
    OFFICE_UNSUBSCRIBED = "office_unsubscribed"
    NOBODY = "nobody"


def route_inbound(citizen: Citizen, message: InboundMessage) -> Route:
    if citizen.erasure_requested_at is not None or citizen.erased_at is not None:
        return Route.NOBODY
    if message.type == "reaction":
        # A reaction is stored on the message it belongs to (whatsapp.MessageReaction); it
        # asks nothing, so it never opens, reopens or reorders a conversation.
        return Route.NOBODY
    reply_id = message.reply.id if message.reply is not None else ""
    referral = referral_code(message.text) if message.type == "text" else None
    if referral is not None and match_keyword(message.text) is None:
        return Route.BOT
    if reply_id.startswith(BOT_CHOICE_PREFIXES) or reply_id.partition(":")[0] in (
        settings.BOT_CHOICE_HANDLERS
    ):
        return Route.BOT
    if message.type == "text" and match_keyword(message.text) is not None:
        return Route.BOT
    if BotSession.objects.filter(
        citizen=citizen,
        expires_at__gt=clock.now(),
        step__in=[BotSession.Step.CONFIRM_CONSENT, BotSession.Step.CONFIRM_ERASURE],
    ).exists():
        return Route.BOT
    chat = (
        Subscription.objects.filter(citizen=citizen, offering=Offering.CHAT)
        .values_list("state", flat=True)
        .first()
    )
    if chat == Subscription.State.ACTIVE:
        return Route.OFFICE
    if message.type in SILENT_TYPES:
        return Route.NOBODY
    if chat == Subscription.State.ENDED and settings.INBOX_ACCEPT_UNSUBSCRIBED:
        return Route.OFFICE_UNSUBSCRIBED
    return Route.BOT
