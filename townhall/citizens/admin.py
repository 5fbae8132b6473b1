"""Configuration for administrators: topics and consent texts. Citizens, subscriptions and
consent records are not editable here: they change only through the actions, which keep
the append-only consent history."""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from townhall.audit.admin_base import AuditedModelAdmin
from townhall.citizens.models import ConsentText, Topic


class TopicRowForm(forms.ModelForm):
    """A row of the topic list's inline editing: each input says which topic it belongs
    to (the admin's list gives them no label, so a screen reader heard "edit, 3" only)."""

    class Meta:
        model = Topic
        fields = ["position", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["aria-label"] = f"{field.label}: {self.instance.name_de}"


@admin.register(Topic)
class TopicAdmin(AuditedModelAdmin):
    list_display = ["slug", "name_de", "name_en", "position", "is_active"]
    list_editable = ["position", "is_active"]

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> type[forms.ModelForm]:
        return TopicRowForm


@admin.register(ConsentText)
class ConsentTextAdmin(AuditedModelAdmin):
    list_display = ["version", "published_at", "privacy_url"]

    def has_change_permission(self, request, obj=None):
        # A published text may already be agreed to: publish a new version instead.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False
