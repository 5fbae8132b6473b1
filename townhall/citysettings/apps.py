from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CitySettingsConfig(AppConfig):
    name = "townhall.citysettings"
    label = "citysettings"
    verbose_name = _("City settings")
