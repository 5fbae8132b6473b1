from django.apps import AppConfig


class WhatsAppConfig(AppConfig):
    name = "townhall.whatsapp"
    label = "whatsapp"
    verbose_name = "WhatsApp Cloud API"

    def ready(self) -> None:
        # Registers the Huey tasks with the consumer.
        from townhall.whatsapp import tasks  # noqa: F401
