from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WhatsAppConfig(AppConfig):
    name = "townhall.whatsapp"
    label = "whatsapp"
    verbose_name = _("WhatsApp Cloud API")

    def ready(self) -> None:
        # Registers the Huey tasks with the consumer.
        from townhall.whatsapp import tasks  # noqa: F401
