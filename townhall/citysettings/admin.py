"""The city's settings in the admin, for experts: secrets stay write-only there too."""

from django.contrib import admin

from townhall.audit.admin_base import AuditedModelAdmin
from townhall.citysettings import config
from townhall.citysettings.models import CitizenText, CitySettings


@admin.register(CitySettings)
class CitySettingsAdmin(AuditedModelAdmin):
    # The encrypted secrets are changed on the settings page only (never shown, not even
    # encrypted: a dump of the page would help an attacker who also has the key).
    exclude = ["access_token_encrypted", "app_secret_encrypted", "verify_token_encrypted"]
    readonly_fields = [
        "access_token_set_at",
        "app_secret_set_at",
        "verify_token_set_at",
        "updated_at",
    ]

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        super().save_model(request, obj, form, change)
        config.invalidate()

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(CitizenText)
class CitizenTextAdmin(AuditedModelAdmin):
    list_display = ["key", "language", "updated_at"]
    list_filter = ["language"]
