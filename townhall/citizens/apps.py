from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CitizensConfig(AppConfig):
    name = "townhall.citizens"
    label = "citizens"
    verbose_name = _("Citizens")

    def ready(self) -> None:
        # Registers the Huey tasks with the consumer.
        from townhall.citizens import tasks  # noqa: F401
