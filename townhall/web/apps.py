from django.apps import AppConfig


class WebConfig(AppConfig):
    """What every staff screen shares: access decorators, the HTMX request type, charts,
    display template tags and partials. Domain apps may use it; it imports no domain app's
    views."""

    name = "townhall.web"
    label = "web"
