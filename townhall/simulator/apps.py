from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    name = "townhall.simulator"
    label = "simulator"
    verbose_name = "Cloud API simulator"
