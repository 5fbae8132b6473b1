"""Who may see and do what in the staff app.

Every permission check of a staff view goes through one of these functions, and each needs
a permission that the roles of ``townhall.staff.roles`` grant (docs/permissions.md lists who
may open which page).
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _

from townhall.citizens.models import Citizen
from townhall.core.permissions import has_permission, is_active_staff
from townhall.whatsapp.models import Message, MessageTemplate

StaffUser = AbstractBaseUser | AnonymousUser


MESSAGE_LOG_PERMISSION = "whatsapp.view_message_log"


def _require_staff(user: StaffUser) -> None:
    if not is_active_staff(user):
        raise PermissionDenied


def _require_permission(user: StaffUser, permission: str) -> None:
    # Superusers have every permission; others through their own or their groups' rights.
    if not has_permission(user, permission):
        raise PermissionDenied


def access_message_log(user: StaffUser) -> None:
    """Allow reading the list of conversations, or raise ``PermissionDenied``."""
    _require_permission(user, MESSAGE_LOG_PERMISSION)


def access_citizen(user: StaffUser, citizen_id: int) -> Citizen:
    """The citizen ``citizen_id`` if ``user`` may read their conversation and reply.

    URLs carry the citizen's id, never the phone number: numbers would end up in browser
    histories and proxy logs.

    Raises ``PermissionDenied`` for users without access and ``Http404`` for unknown ids
    (only after the permission check, so outsiders cannot probe which numbers exist).
    """
    _require_permission(user, MESSAGE_LOG_PERMISSION)
    try:
        return Citizen.objects.get(pk=citizen_id, erased_at__isnull=True)
    except Citizen.DoesNotExist:
        raise Http404(_("No such citizen.")) from None


def access_inbound_message(user: StaffUser, citizen_id: int, message_id: int) -> Message:
    """The inbound message ``message_id`` from citizen ``citizen_id``, if ``user`` may handle
    it (``whatsapp.retry_inbound_message``); ``Http404`` for a message that is not the
    citizen's."""
    _require_permission(user, "whatsapp.retry_inbound_message")
    citizen = access_citizen(user, citizen_id)
    try:
        return Message.objects.get(
            pk=message_id, wa_id=citizen.wa_id, direction=Message.Direction.INBOUND
        )
    except Message.DoesNotExist:
        raise Http404(_("No such message.")) from None


# --- subscribers --------------------------------------------------------------------------------


def _subscriber(citizen_id: int) -> Citizen:
    try:
        return Citizen.objects.get(pk=citizen_id)
    except Citizen.DoesNotExist:
        raise Http404(_("No such citizen.")) from None


def access_subscriber_statistics(user: StaffUser) -> None:
    """Allow reading the anonymous subscriber numbers, or raise ``PermissionDenied``."""
    _require_permission(user, "citizens.view_subscriber_statistics")


def access_subscriber_search(user: StaffUser) -> None:
    """Allow finding citizens by phone number, or raise ``PermissionDenied``.

    Only for staff with ``citizens.search_by_number``: a number search singles out a person.
    """
    _require_permission(user, "citizens.search_by_number")


def access_subscriber(user: StaffUser, citizen_id: int) -> Citizen:
    """The citizen with ``citizen_id`` if ``user`` may read their subscriptions and consent
    history (``citizens.view_citizen``); ``Http404`` for unknown ids, only after the
    permission check."""
    _require_permission(user, "citizens.view_citizen")
    return _subscriber(citizen_id)


def access_subscriber_export(user: StaffUser, citizen_id: int) -> Citizen:
    """The citizen if ``user`` may export their data on request (DSGVO Art. 15)."""
    _require_permission(user, "citizens.export_citizen_data")
    return _subscriber(citizen_id)


def access_subscriber_link_revocation(user: StaffUser, citizen_id: int) -> Citizen:
    """The citizen if ``user`` may make their signed links invalid on request: those who
    handle data requests (``citizens.export_citizen_data``)."""
    _require_permission(user, "citizens.export_citizen_data")
    return _subscriber(citizen_id)


def access_subscriber_erasure(user: StaffUser, citizen_id: int) -> Citizen:
    """The citizen if ``user`` may erase their data on request (DSGVO Art. 17)."""
    _require_permission(user, "citizens.erase_citizen")
    return _subscriber(citizen_id)


# --- message templates --------------------------------------------------------------------------


def access_templates(user: StaffUser) -> None:
    """Allow reading the message templates and their review status."""
    _require_permission(user, "whatsapp.view_messagetemplate")


def access_template(user: StaffUser, template_id: int) -> MessageTemplate:
    """The template ``template_id`` if ``user`` may read it; ``Http404`` for unknown ids."""
    _require_permission(user, "whatsapp.view_messagetemplate")
    try:
        return MessageTemplate.objects.get(pk=template_id)
    except MessageTemplate.DoesNotExist:
        raise Http404(_("No such template.")) from None


def access_template_management(user: StaffUser) -> None:
    """Allow writing, submitting and syncing templates (``whatsapp.manage_templates``):
    a template speaks for the city to every citizen outside their chat."""
    _require_permission(user, "whatsapp.manage_templates")
