"""The staff app's main navigation: each entry names the right it needs, so every role sees
exactly the pages it may open (docs/permissions.md). A new page adds its entry here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from townhall.core.permissions import has_permission


@dataclass(frozen=True)
class NavEntry:
    url_name: str
    label: str | Promise
    # Any one of these rights shows the entry.
    permissions: tuple[str, ...]
    # The entry is the current page for these URL namespaces or "namespace:name"s.
    current: tuple[str, ...] = ()
    testid: str = ""
    # A template included after the label (e.g. the inbox's unread count).
    badge_template: str = ""

    def is_current(self, match: Any) -> bool:
        if match is None:
            return False
        return match.namespace in self.current or match.view_name in self.current


NAV_ENTRIES: tuple[NavEntry, ...] = (
    NavEntry(
        "inbox:list",
        _("Inbox"),
        ("inbox.use_inbox",),
        current=("inbox",),
        testid="nav-inbox",
        badge_template="inbox/_nav_unread.html",
    ),
    NavEntry(
        "channel:posts",
        _("Info channel"),
        ("channel.view_post",),
        current=("channel",),
        testid="nav-channel",
    ),
    NavEntry(
        "staff:subscribers",
        _("Subscribers"),
        ("citizens.view_subscriber_statistics",),
        current=("staff:subscribers", "staff:subscriber", "staff:subscriber_erase"),
        testid="nav-subscribers",
    ),
    NavEntry(
        "inbox_metrics:overview",
        _("Statistics"),
        ("inbox.view_metrics",),
        current=("inbox_metrics",),
        testid="nav-statistics",
    ),
    NavEntry(
        "staff:message_log",
        _("Messages"),
        ("whatsapp.view_message_log",),
        current=("staff:message_log", "staff:citizen_log"),
        testid="nav-messages",
    ),
    NavEntry(
        "staff:templates",
        _("Templates"),
        ("whatsapp.view_messagetemplate",),
        current=("staff:templates", "staff:template_detail", "staff:template_new"),
        testid="nav-templates",
    ),
    NavEntry(
        "audit:log",
        _("Audit log"),
        ("audit.view_auditentry",),
        current=("audit",),
        testid="nav-audit",
    ),
    # The admin: for whoever may manage accounts or roles (the role Administration).
    NavEntry(
        "admin:index",
        _("Administration"),
        ("auth.change_user", "auth.change_group"),
        current=("admin",),
        testid="nav-admin",
    ),
)


@dataclass(frozen=True)
class NavLink:
    url: str
    label: str | Promise
    is_current: bool
    testid: str
    badge_template: str


def nav_entries_for(user: Any) -> list[NavEntry]:
    """The entries ``user`` may use, in navigation order."""
    return [
        entry
        for entry in NAV_ENTRIES
        if any(has_permission(user, permission) for permission in entry.permissions)
    ]


def nav_links(user: Any, match: Any = None) -> list[NavLink]:
    return [
        NavLink(
            reverse(entry.url_name),
            entry.label,
            entry.is_current(match),
            entry.testid,
            entry.badge_template,
        )
        for entry in nav_entries_for(user)
    ]
