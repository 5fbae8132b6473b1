"""Who may be sent what: the consent check every outbound message passes, twice.

The rule itself lives in the app that owns consent (``settings.WHATSAPP["SEND_POLICY"]``, a
module with ``refusals(wa_ids, purpose, topic) -> {wa_id: reason}``); whatsapp/ only
guarantees it is asked when a message is queued and again right before it is sent, so a STOP
between the two still stops the message. The dispatcher asks once per batch.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from importlib import import_module

from django.conf import settings


class Purpose(enum.StrEnum):
    # The bot's direct answer to a message the citizen has just sent (START, STOP, HILFE...).
    SERVICE_REPLY = "service_reply"
    # Staff answering in the chat with the mayor's office.
    CHAT = "chat"
    # A post of the info channel, optionally for one topic.
    INFO = "info"


class SendRefused(Exception):
    """The citizen has not consented to this kind of message (or cannot be reached)."""


def refusals(wa_ids: Iterable[str], purpose: Purpose, topic: str = "") -> dict[str, str]:
    """The reason each refused recipient may not get the message; absent = allowed."""
    return import_module(settings.WHATSAPP["SEND_POLICY"]).refusals(wa_ids, purpose, topic)


def check_send_allowed(wa_id: str, purpose: Purpose, topic: str = "") -> None:
    """Raise ``SendRefused`` unless the configured policy allows the message."""
    reason = refusals([wa_id], purpose, topic).get(wa_id)
    if reason is not None:
        raise SendRefused(reason)
