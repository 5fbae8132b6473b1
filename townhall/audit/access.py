"""Who may read the audit log: whoever holds ``audit.view_auditentry`` (the roles
Administration and Bürgermeister/in). Nobody may change it."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied

from townhall.core.permissions import has_permission

VIEW_PERMISSION = "audit.view_auditentry"


def can_read_audit_log(user: Any) -> bool:
    return has_permission(user, VIEW_PERMISSION)


def access_audit_log(user: Any) -> None:
    if not can_read_audit_log(user):
        raise PermissionDenied
