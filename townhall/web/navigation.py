"""The main navigation of the staff pages: one list, each entry shown only to who may open it.

An entry names its page (URL name), the permissions that open it (any one of them; none =
every active staff member) and how to tell it is the current page. Roles plug in here:
grant a group the permission and its members see the entry. The views check the same
permissions again (``access_*`` functions); hiding a link is only a courtesy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True, slots=True)
class NavEntry:
    key: str
    label: Promise
    url_name: str
    # Any one of these opens the page; empty = every active staff member.
    permissions: tuple[str, ...] = ()
    superuser_only: bool = False
    # Shown only to users WITHOUT this permission (a read-only page that the full settings
    # page replaces for administrators).
    hidden_with: str = ""
    # The entry is current when the resolved URL's namespace or name is one of these.
    namespaces: tuple[str, ...] = ()
    url_names: tuple[str, ...] = ()
    # Needs this Django app (entries of apps that a deployment may lack).
    app_label: str = ""


STATISTICS = "citysettings.view_statistics"
SETTINGS = "citysettings.change_citysettings"

NAVIGATION: tuple[NavEntry, ...] = (
    NavEntry(
        "dashboard", _("Dashboard"), "staff:dashboard", (STATISTICS,), url_names=("dashboard",)
    ),
    NavEntry("inbox", _("Inbox"), "inbox:list", ("inbox.use_inbox",), namespaces=("inbox",)),
    NavEntry(
        "channel",
        _("Info channel"),
        "channel:posts",
        ("channel.view_post",),
        namespaces=("channel",),
    ),
    NavEntry(
        "templates",
        _("Templates"),
        "staff:templates",
        ("whatsapp.view_messagetemplate",),
        url_names=("templates", "template_detail", "template_new"),
    ),
    NavEntry(
        "subscribers",
        _("Subscribers"),
        "staff:subscribers",
        ("citizens.view_subscriber_statistics",),
        url_names=("subscribers", "subscriber", "subscriber_erase"),
    ),
    NavEntry(
        "statistics",
        _("Statistics"),
        "inbox_metrics:overview",
        ("inbox.view_metrics",),
        namespaces=("inbox_metrics",),
    ),
    NavEntry(
        "messages",
        _("Messages"),
        "staff:message_log",
        ("whatsapp.view_message_log",),
        url_names=("message_log", "citizen_log"),
    ),
    NavEntry(
        "office_hours",
        _("Office hours"),
        "citysettings:office_hours",
        # Everyone with a role reads them; a staff member without one is asked to get one.
        ("inbox.use_inbox", "channel.view_post", STATISTICS),
        hidden_with=SETTINGS,
        namespaces=("citysettings",),
    ),
    NavEntry(
        "settings", _("Settings"), "citysettings:index", (SETTINGS,), namespaces=("citysettings",)
    ),
    NavEntry(
        "audit",
        _("Audit log"),
        "audit:log",
        ("audit.view_auditentry",),
        namespaces=("audit",),
        app_label="audit",
    ),
    # The admin: for whoever may manage accounts or roles (the role Administration).
    NavEntry(
        "admin",
        _("Administration"),
        "admin:index",
        ("auth.change_user", "auth.change_group"),
        namespaces=("admin",),
    ),
)


@dataclass(frozen=True, slots=True)
class VisibleEntry:
    key: str
    label: str
    url: str
    is_current: bool


def may_see(user: Any, entry: NavEntry) -> bool:
    if not (user.is_authenticated and user.is_active and getattr(user, "is_staff", False)):
        return False
    if entry.app_label and not apps.is_installed(f"townhall.{entry.app_label}"):
        return False
    if entry.superuser_only:
        return bool(user.is_superuser)
    if entry.hidden_with and user.has_perm(entry.hidden_with):
        return False
    return not entry.permissions or any(user.has_perm(name) for name in entry.permissions)


def visible_entries(user: Any, request: HttpRequest | None = None) -> list[VisibleEntry]:
    match = getattr(request, "resolver_match", None) if request is not None else None
    visible = []
    for entry in NAVIGATION:
        if not may_see(user, entry):
            continue
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:
            continue
        is_current = match is not None and (
            match.namespace in entry.namespaces or match.url_name in entry.url_names
        )
        visible.append(VisibleEntry(entry.key, str(entry.label), url, is_current))
    return visible
