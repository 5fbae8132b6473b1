from django.http import HttpRequest

from townhall.citysettings import config


def city(request: HttpRequest) -> dict[str, object]:
    """The city's name, logo and colour for the page frame (staff and public pages)."""
    snapshot = config.current()
    version = snapshot.updated_at.strftime("%Y%m%d%H%M%S") if snapshot.updated_at else "0"
    return {
        "city_name": config.city_name(),
        "city_has_logo": bool(snapshot.logo_name),
        "city_has_theme": bool(snapshot.brand_color),
        # Cache-busting suffix for the logo and theme URLs.
        "city_settings_version": version,
    }
