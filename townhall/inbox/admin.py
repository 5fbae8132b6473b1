"""Configuration of the inbox for administrators: teams, labels, canned responses, hours."""

from django.contrib import admin

from townhall.audit.admin_base import AuditedModelAdmin
from townhall.inbox.models import CannedResponse, ClosedDay, Label, Team, WeeklyHours


@admin.register(Team)
class TeamAdmin(AuditedModelAdmin):
    list_display = ["name"]
    filter_horizontal = ["members"]


@admin.register(Label)
class LabelAdmin(AuditedModelAdmin):
    list_display = ["name", "color"]


@admin.register(CannedResponse)
class CannedResponseAdmin(AuditedModelAdmin):
    list_display = ["title"]
    search_fields = ["title", "body"]


@admin.register(WeeklyHours)
class WeeklyHoursAdmin(AuditedModelAdmin):
    list_display = ["weekday", "opens", "closes"]


@admin.register(ClosedDay)
class ClosedDayAdmin(AuditedModelAdmin):
    list_display = ["date", "reason"]
