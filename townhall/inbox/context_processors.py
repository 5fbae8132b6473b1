"""Template variables every staff page needs from the inbox (the navigation badge)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from townhall.inbox.access import can_use_inbox
from townhall.inbox.queries import unread_total


def inbox(request: HttpRequest) -> dict[str, object]:
    """``inbox_unread_count``: unread citizen messages, for users who may open the inbox.

    Lazy: the one aggregate query runs only when a template shows the number.
    """
    user = getattr(request, "user", None)
    if user is None or not can_use_inbox(user):
        return {}
    return {"inbox_unread_count": SimpleLazyObject(unread_total)}
