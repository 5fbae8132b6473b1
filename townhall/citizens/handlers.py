"""What the citizens app does when the WhatsApp worker has stored an inbound message.

Registered in ``settings.WHATSAPP["INBOUND_HANDLERS"]``; whatsapp/ never imports this app.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from townhall.citizens.actions import do_record_inbound_contact
from townhall.citizens.bot import handle_inbound
from townhall.core.phone_numbers import is_valid_wa_id

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from townhall.whatsapp.models import Message
    from townhall.whatsapp.types import InboundMessage


def on_inbound_message(message: InboundMessage, stored: Message) -> None:
    """Keep the citizen behind a newly stored inbound message up to date, then let the bot
    answer it."""
    if not is_valid_wa_id(message.from_wa_id):
        # Meta only sends real numbers; anything else is a forged or broken payload. The
        # message stays in the log for inspection, but nobody is created or answered.
        logger.warning("citizens.invalid_wa_id message=%s", stored.pk)
        return
    citizen = do_record_inbound_contact(
        message.from_wa_id, message.profile_name or "", message.timestamp
    )
    handle_inbound(citizen, message)
