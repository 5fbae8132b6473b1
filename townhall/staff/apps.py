from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StaffConfig(AppConfig):
    name = "townhall.staff"
    label = "staff"
    verbose_name = _("Staff pages")

    def ready(self) -> None:
        # Every login (form, admin, test client) goes through auth.login(), which announces
        # it only as a signal.
        from django.contrib.auth.signals import user_logged_in

        from townhall.staff.middleware import on_logged_in

        user_logged_in.connect(on_logged_in, dispatch_uid="staff_session_rules")
