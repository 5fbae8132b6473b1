"""Accounts and roles in the admin, with every change written to the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.http import HttpRequest

from townhall.audit.actions import Action, do_audit
from townhall.staff.models import RolePolicy

USER_FLAGS = ("is_active", "is_staff", "is_superuser")


def _permission_names(permissions: Any) -> set[str]:
    return {
        f"{app_label}.{codename}"
        for app_label, codename in permissions.values_list("content_type__app_label", "codename")
    }


def _difference(before: set[str], after: set[str]) -> dict[str, list[str]]:
    return {
        key: sorted(values)
        for key, values in (("added", after - before), ("removed", before - after))
        if values
    }


def _audit_deletions(action: str, request: HttpRequest, objects: Any) -> None:
    for obj in objects:
        do_audit(
            action,
            acting_user=request.user,
            target=obj,
            details={"change": "deleted"},
            request=request,
        )


class AuditedUserAdmin(UserAdmin):
    """Django's user admin; role memberships, rights and flags changes are audited."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        user = form.instance
        before_flags = getattr(form, "_audit_flags_before", {})
        groups_before = set(user.groups.values_list("name", flat=True)) if change else set()
        rights_before = _permission_names(user.user_permissions) if change else set()
        super().save_related(request, form, formsets, change)
        details: dict[str, Any] = {}
        roles = _difference(groups_before, set(user.groups.values_list("name", flat=True)))
        if roles:
            details["roles"] = roles
        rights = _difference(rights_before, _permission_names(user.user_permissions))
        if rights:
            details["rights"] = rights
        flags = {
            flag: getattr(user, flag)
            for flag in USER_FLAGS
            if before_flags.get(flag, None if change else False) != getattr(user, flag)
        }
        if flags:
            details["flags"] = flags
        if details or not change:
            details["change"] = "changed" if change else "added"
            do_audit(
                Action.ROLES_CHANGED,
                acting_user=request.user,
                target=user,
                details=details,
                request=request,
            )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            stored = type(obj).objects.filter(pk=obj.pk).values(*USER_FLAGS).first() or {}
            form._audit_flags_before = stored
        super().save_model(request, obj, form, change)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        _audit_deletions(Action.ROLES_CHANGED, request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        # "Delete selected" in the list: the same entry per account as deleting one.
        _audit_deletions(Action.ROLES_CHANGED, request, queryset)
        super().delete_queryset(request, queryset)


class RolePolicyInline(admin.StackedInline):
    model = RolePolicy
    can_delete = False
    extra = 1
    max_num = 1


class AuditedGroupAdmin(GroupAdmin):
    """Roles with their login rule; changes to their rights are audited."""

    inlines = [RolePolicyInline]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        group = form.instance
        rights_before = _permission_names(group.permissions) if change else set()
        policy = RolePolicy.objects.filter(group=group).first() if change else None
        two_factor_before = policy.requires_two_factor if policy else False
        super().save_related(request, form, formsets, change)
        details: dict[str, Any] = {"change": "changed" if change else "added"}
        rights = _difference(rights_before, _permission_names(group.permissions))
        if rights:
            details["rights"] = rights
        policy = RolePolicy.objects.filter(group=group).first()
        two_factor = policy.requires_two_factor if policy else False
        if two_factor != two_factor_before:
            details["requires_two_factor"] = two_factor
        if len(details) > 1 or not change:
            do_audit(
                Action.ROLE_PERMISSIONS_CHANGED,
                acting_user=request.user,
                target=group,
                details=details,
                request=request,
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        _audit_deletions(Action.ROLE_PERMISSIONS_CHANGED, request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        _audit_deletions(Action.ROLE_PERMISSIONS_CHANGED, request, queryset)
        super().delete_queryset(request, queryset)


admin.site.unregister(User)
admin.site.register(User, AuditedUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, AuditedGroupAdmin)
