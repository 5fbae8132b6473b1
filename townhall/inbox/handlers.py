"""What the inbox does with a newly stored inbound message (``WHATSAPP["INBOUND_HANDLERS"]``).

Runs after the citizens handler, which has recorded the citizen and let the bot answer
whatever was the bot's; ``route_inbound`` gives the same verdict here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from townhall.citizens.models import Citizen
from townhall.citizens.routing import Route, route_inbound
from townhall.inbox.actions import do_receive_chat_message

if TYPE_CHECKING:
    from townhall.whatsapp.models import Message
    from townhall.whatsapp.types import InboundMessage


def on_inbound_message(message: InboundMessage, stored: Message) -> None:
    citizen = Citizen.objects.filter(wa_id=message.from_wa_id).first()
    if citizen is None:
        return
    route = route_inbound(citizen, message)
    if route in (Route.OFFICE, Route.OFFICE_UNSUBSCRIBED):
        do_receive_chat_message(citizen, stored, is_unsubscribed=route == Route.OFFICE_UNSUBSCRIBED)
