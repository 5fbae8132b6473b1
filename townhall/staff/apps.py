from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "townhall.staff"
    label = "staff"
