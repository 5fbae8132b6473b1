from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from townhall.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only, for experts as for everyone."""

    list_display = ["created_at", "actor_name", "action", "target_type", "target_id"]
    list_filter = ["action"]
    search_fields = ["actor_name", "target_id"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
