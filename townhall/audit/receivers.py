"""What Django and its add-ons announce only as signals, written to the audit log:
logins (also failed ones and lockouts), logouts and every change made in the admin."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save
from django.http import HttpRequest

from townhall.audit.actions import Action, do_audit, pseudonym

# Changes to accounts and roles are recorded in more detail by the staff app's admin
# (which roles were added or removed), not as plain "settings changed".
ROLE_MODELS = {("auth", "user"), ("auth", "group")}
ADMIN_CHANGES = {ADDITION: "added", CHANGE: "changed", DELETION: "deleted"}


def on_logged_in(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    do_audit(Action.LOGIN, acting_user=user, target=user, request=request)


def on_logged_out(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is None:
        return
    if getattr(request, "townhall_session_expired", False):
        do_audit(Action.SESSION_EXPIRED, acting_user=user, target=user, request=request)
        return
    do_audit(Action.LOGOUT, acting_user=user, target=user, request=request)


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """The typed user name may be a mistyped password: only its keyed hash is kept; the
    account, when it exists, is named by its id."""
    username = str(credentials.get(get_user_model().USERNAME_FIELD) or "")
    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    do_audit(
        Action.LOGIN_FAILED,
        target_type="user" if user is not None else "",
        target_id=user.pk if user is not None else "",
        details={"username_hash": pseudonym(username)},
        request=request,
    )


def on_locked_out(
    sender: Any, request: HttpRequest, username: str | None = None, **kwargs: Any
) -> None:
    do_audit(
        Action.LOCKED_OUT,
        details={"username_hash": pseudonym(username or "")},
        request=request,
    )


def on_admin_change(sender: Any, instance: LogEntry, created: bool, **kwargs: Any) -> None:
    if not created or instance.content_type is None:
        return
    content_type = instance.content_type
    if (content_type.app_label, content_type.model) in ROLE_MODELS:
        return
    fields: list[str] = []
    try:
        changes = json.loads(instance.change_message or "[]")
    except ValueError:
        changes = []
    for change in changes if isinstance(changes, list) else []:
        fields.extend(change.get("changed", {}).get("fields", []))
    do_audit(
        Action.SETTINGS_CHANGED,
        acting_user=instance.user,
        target_type=f"{content_type.app_label}.{content_type.model}",
        target_id=instance.object_id or "",
        details={
            "change": ADMIN_CHANGES.get(instance.action_flag, "changed"),
            "fields": fields,
            "via": "admin",
        },
    )


def connect() -> None:
    user_logged_in.connect(on_logged_in, dispatch_uid="audit_login")
    user_logged_out.connect(on_logged_out, dispatch_uid="audit_logout")
    user_login_failed.connect(on_login_failed, dispatch_uid="audit_login_failed")
    post_save.connect(on_admin_change, sender=LogEntry, dispatch_uid="audit_admin_change")
    from axes.signals import user_locked_out

    user_locked_out.connect(on_locked_out, dispatch_uid="audit_locked_out")
