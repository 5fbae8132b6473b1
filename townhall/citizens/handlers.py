"""What the citizens app does when the WhatsApp worker has stored an inbound message.

Registered in ``settings.WHATSAPP["INBOUND_HANDLERS"]``; whatsapp/ never imports this app.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from townhall.citizens.actions import (
    NUMBER_CHANGE_KINDS,
    do_change_number,
    do_record_inbound_contact,
)
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
    system = message.system
    if message.type == "system" and system is not None and system.kind in NUMBER_CHANGE_KINDS:
        if is_valid_wa_id(system.new_wa_id) and system.new_wa_id != message.from_wa_id:
            moved = do_change_number(message.from_wa_id, system.new_wa_id)
            logger.info(
                "citizens.number_changed message=%s citizen=%s",
                stored.pk,
                moved.pk if moved is not None else None,
            )
        else:
            logger.warning("citizens.number_change_without_new_number message=%s", stored.pk)
        # A notice from WhatsApp, not from the citizen: nobody answers it.
        return
    citizen = do_record_inbound_contact(
        message.from_wa_id, message.profile_name or "", message.timestamp
    )
    handle_inbound(citizen, message)
