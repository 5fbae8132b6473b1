"""Template variables of the page frame that come from the UI layer."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from townhall.web.navigation import visible_entries


def navigation(request: HttpRequest) -> dict[str, object]:
    """``main_navigation``: the entries the signed-in user may open (lazy)."""
    user = getattr(request, "user", None)
    if user is None:
        return {}
    return {"main_navigation": SimpleLazyObject(lambda: visible_entries(user, request))}
