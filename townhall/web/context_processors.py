"""Template variables of the page frame (base.html)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from townhall.web.navigation import nav_links


def navigation(request: HttpRequest) -> dict[str, object]:
    """``nav_links``: the main navigation for the signed-in user (lazy: public pages and
    fragments that never show it cost nothing)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_links": []}
    return {
        "nav_links": SimpleLazyObject(
            lambda: nav_links(user, getattr(request, "resolver_match", None))
        )
    }
