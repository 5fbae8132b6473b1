"""The consent rule of the sending layer (``settings.WHATSAPP["SEND_POLICY"]``)."""

from __future__ import annotations

from townhall.citizens.models import Citizen, Offering, Subscription, TopicSubscription
from townhall.whatsapp.policy import Purpose, SendRefused
from townhall.whatsapp.service_window import is_within_service_window


def check_send_allowed(wa_id: str, purpose: Purpose, topic: str = "") -> None:
    """Raise ``SendRefused`` unless ``wa_id`` may receive a message for ``purpose``.

    - service replies: only to someone who wrote to us in the last 24 hours;
    - chat: only with an active chat subscription (consent on record);
    - info: only with an active info subscription and, for a topic, that topic chosen.
    """
    citizen = Citizen.objects.filter(wa_id=wa_id, erased_at__isnull=True).first()
    if citizen is None:
        raise SendRefused("unknown citizen")
    if purpose == Purpose.SERVICE_REPLY:
        if not is_within_service_window(citizen.last_inbound_at):
            raise SendRefused("no message from the citizen in the last 24 hours")
        return
    offering = Offering.CHAT if purpose == Purpose.CHAT else Offering.INFO
    if not Subscription.objects.filter(
        citizen=citizen, offering=offering, state=Subscription.State.ACTIVE
    ).exists():
        raise SendRefused(f"no active consent for the {offering} offering")
    if (
        purpose == Purpose.INFO
        and topic
        and not TopicSubscription.objects.filter(
            citizen=citizen, topic__slug=topic, is_active=True
        ).exists()
    ):
        raise SendRefused("topic not chosen")
