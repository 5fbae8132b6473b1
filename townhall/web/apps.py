from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    """What every staff screen shares: access decorators, the HTMX request type, charts,
    display template tags and partials. Domain apps may use it; it imports no domain app's
    views."""

    name = "townhall.web"
    label = "web"
    verbose_name = _("User interface")
