from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "townhall.audit"
    label = "audit"
    verbose_name = _("Audit log")

    def ready(self) -> None:
        # Logins, logouts and failed logins are announced by Django's auth (and django-axes
        # for lockouts), changes in the admin by its LogEntry rows: there is no action of
        # ours to call the audit log from.
        from townhall.audit import receivers

        receivers.connect()
