"""The base of Townhall's admin pages: every change in them reaches the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.http import HttpRequest

from townhall.audit.receivers import on_admin_change


class AuditedModelAdmin(admin.ModelAdmin):
    """Single changes reach the audit log through the admin's log (``on_admin_change``).
    Django writes the log of a "delete selected" of several objects with ``bulk_create``,
    which sends no ``post_save``: those deletions are audited here, one entry per object."""

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        entries = super().log_deletions(request, queryset)
        if len(entries) > 1:
            for entry in entries:
                on_admin_change(LogEntry, entry, created=True)
        return entries
