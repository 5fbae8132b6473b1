"""Who may be sent what: the consent check every outbound message passes, twice.

The rule itself lives in the app that owns consent (``settings.WHATSAPP["SEND_POLICY"]``);
whatsapp/ only guarantees it is asked when a message is queued and again right before it
is sent, so a STOP between the two still stops the message.
"""

from __future__ import annotations

import enum

from django.conf import settings
from django.utils.module_loading import import_string


class Purpose(enum.StrEnum):
    # The bot's direct answer to a message the citizen has just sent (START, STOP, HILFE...).
    SERVICE_REPLY = "service_reply"
    # Staff answering in the chat with the mayor's office.
    CHAT = "chat"
    # A post of the info channel, optionally for one topic.
    INFO = "info"


class SendRefused(Exception):
    """The citizen has not consented to this kind of message (or cannot be reached)."""


def check_send_allowed(wa_id: str, purpose: Purpose, topic: str = "") -> None:
    """Raise ``SendRefused`` unless the configured policy allows the message."""
    import_string(settings.WHATSAPP["SEND_POLICY"])(wa_id, purpose, topic)
