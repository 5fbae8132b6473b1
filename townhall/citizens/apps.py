from django.apps import AppConfig


class CitizensConfig(AppConfig):
    name = "townhall.citizens"
    label = "citizens"

    def ready(self) -> None:
        # Registers the Huey tasks with the consumer.
        from townhall.citizens import tasks  # noqa: F401
