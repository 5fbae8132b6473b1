"""System checks that refuse to run Townhall insecurely.

Errors, not warnings: ``migrate``, ``runserver`` and ``check --deploy`` stop on them, so a
production install cannot start with the simulator's public credentials or a debug page
open to the internet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.checks import Error, register
from django.db import DatabaseError

from townhall.core.deployment import insecure_credentials, is_loopback_host


@register()
def check_whatsapp_credentials(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    base_url = settings.WHATSAPP["API_BASE_URL"]
    return [
        Error(
            f"{variable} is empty or the simulator's public default, but the Cloud API is "
            f"{base_url}.",
            hint=f"Set {variable} to the value from your Meta app (see README, Configuration), "
            "or on the settings page (/konfiguration/) while Townhall still talks to the "
            "simulator.",
            id="townhall.E001",
        )
        for variable in insecure_credentials(base_url, _whatsapp_credentials())
    ]


def _whatsapp_credentials() -> Mapping[str, Any]:
    """The credentials the app uses (the settings page's, else the environment's). Before
    the first migration there is no table yet: the environment's."""
    from townhall.whatsapp.fast_webhook import effective_credentials

    try:
        return effective_credentials()
    except DatabaseError:
        return settings.WHATSAPP


@register()
def check_debug_on_public_host(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    public_hosts = [
        host for host in settings.ALLOWED_HOSTS if host == "*" or not is_loopback_host(host)
    ]
    if settings.DEBUG and public_hosts:
        return [
            Error(
                "TOWNHALL_DEBUG is on while Townhall answers public host names "
                f"({', '.join(public_hosts)}): debug pages show settings and personal data.",
                hint="Unset TOWNHALL_DEBUG, or limit TOWNHALL_ALLOWED_HOSTS to this machine.",
                id="townhall.E002",
            )
        ]
    return []
