"""Configuration for administrators: topics and consent texts. Citizens, subscriptions and
consent records are not editable here: they change only through the actions, which keep
the append-only consent history."""

from django.contrib import admin

from townhall.audit.admin_base import AuditedModelAdmin
from townhall.citizens.models import ConsentText, Topic


@admin.register(Topic)
class TopicAdmin(AuditedModelAdmin):
    list_display = ["slug", "name_de", "name_en", "position", "is_active"]
    list_editable = ["position", "is_active"]


@admin.register(ConsentText)
class ConsentTextAdmin(AuditedModelAdmin):
    list_display = ["version", "published_at", "privacy_url"]

    def has_change_permission(self, request, obj=None):
        # A published text may already be agreed to: publish a new version instead.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False
