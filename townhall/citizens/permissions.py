"""Who may single out a citizen by their phone number: the one place for both rules.

A number identifies a person directly, so two rights of the ``Citizen`` model guard it on
every screen: ``search_by_number`` (finding a citizen by typing digits: message log, inbox,
subscribers) and ``view_phone_number`` (the full number and a ``tel:`` link; everyone else
sees it masked, e.g. ``+49 151 •••• 5601``). Templates ask ``perms.citizens.view_phone_number``
through ``web/_citizen_number.html``.
"""

from __future__ import annotations

from typing import Any

SEARCH_BY_NUMBER = "citizens.search_by_number"
VIEW_PHONE_NUMBER = "citizens.view_phone_number"


def _has(user: Any, permission: str) -> bool:
    has_perm = getattr(user, "has_perm", None)
    return bool(getattr(user, "is_active", False) and has_perm is not None and has_perm(permission))


def may_search_by_number(user: Any) -> bool:
    return _has(user, SEARCH_BY_NUMBER)


def may_view_phone_number(user: Any) -> bool:
    return _has(user, VIEW_PHONE_NUMBER)
