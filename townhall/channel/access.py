"""Who may see and do what with the info channel's posts and rate card.

Every channel view checks through one of these. Reading posts needs ``channel.view_post``,
reading the rate card ``channel.view_messageprice``; drafting, approving, sending urgent
alerts and editing prices each need their permission (``townhall.staff.roles`` grants them
to roles; docs/permissions.md lists who may open which page).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _

from townhall.channel.models import MessagePrice, Post
from townhall.core.permissions import has_permission

VIEW_PERMISSION = "channel.view_post"
DRAFT_PERMISSIONS = ("channel.add_post", "channel.change_post")
APPROVE_PERMISSION = "channel.approve_post"
URGENT_PERMISSION = "channel.send_urgent"
RATE_CARD_PERMISSION = "channel.change_messageprice"
RATE_CARD_VIEW_PERMISSION = "channel.view_messageprice"


def can_read_posts(user: Any) -> bool:
    return has_permission(user, VIEW_PERMISSION)


def can_draft(user: Any) -> bool:
    return any(has_permission(user, permission) for permission in DRAFT_PERMISSIONS)


def can_approve(user: Any) -> bool:
    return has_permission(user, APPROVE_PERMISSION)


def can_send_urgent(user: Any) -> bool:
    return has_permission(user, URGENT_PERMISSION)


def can_edit_rate_card(user: Any) -> bool:
    return has_permission(user, RATE_CARD_PERMISSION)


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def access_post_list(user: Any) -> None:
    _require(can_read_posts(user))


def access_post(user: Any, post_id: int) -> Post:
    """The post ``post_id`` for reading; ``Http404`` only after the permission check."""
    _require(can_read_posts(user))
    try:
        return Post.objects.select_related("author", "approved_by", "template").get(pk=post_id)
    except Post.DoesNotExist:
        raise Http404(_("No such post.")) from None


def access_new_post(user: Any) -> None:
    _require(has_permission(user, "channel.add_post"))


def access_post_for_editing(user: Any, post_id: int) -> Post:
    """A post to edit or submit: for its author (``add_post``) and editors (``change_post``);
    the action refuses posts that are no longer drafts and others' drafts without
    ``change_post``."""
    _require(can_draft(user))
    return access_post(user, post_id)


def access_post_for_approval(user: Any, post_id: int) -> Post:
    _require(can_approve(user))
    return access_post(user, post_id)


def access_post_for_urgent_sending(user: Any, post_id: int) -> Post:
    _require(can_send_urgent(user))
    return access_post(user, post_id)


def access_post_for_sending_control(user: Any, post_id: int) -> Post:
    """Pause, resume and cancel: for whoever may approve or send urgent alerts."""
    _require(can_approve(user) or can_send_urgent(user))
    return access_post(user, post_id)


def access_rate_card(user: Any) -> None:
    _require(has_permission(user, RATE_CARD_VIEW_PERMISSION))


def access_rate_card_for_editing(user: Any) -> None:
    _require(can_edit_rate_card(user))


def access_price_for_editing(user: Any, price_id: int) -> MessagePrice:
    _require(can_edit_rate_card(user))
    try:
        return MessagePrice.objects.get(pk=price_id)
    except MessagePrice.DoesNotExist:
        raise Http404(_("No such price.")) from None
