"""What tells a production install from the embedded demo, in one place.

The simulator's credentials are public (they are in this repository). They are only ever
used when the Cloud API base URL is the simulator on this machine's loopback interface;
anywhere else they would let anyone sign webhooks (fake messages, STOP or LÖSCHEN for any
number). ``settings`` fills them in only for the loopback simulator, the system checks in
``townhall.core.checks`` refuse to start with them, and the webhook refuses them at runtime.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

# The simulator's well-known credentials, by the environment variable that replaces them.
SIMULATOR_CREDENTIALS = {
    "WHATSAPP_ACCESS_TOKEN": "simulator-access-token",
    "WHATSAPP_APP_SECRET": "simulator-app-secret",
    "WHATSAPP_VERIFY_TOKEN": "simulator-verify-token",
}
# The key of each variable in settings.WHATSAPP.
CREDENTIAL_SETTINGS = {
    "WHATSAPP_ACCESS_TOKEN": "ACCESS_TOKEN",
    "WHATSAPP_APP_SECRET": "APP_SECRET",
    "WHATSAPP_VERIFY_TOKEN": "VERIFY_TOKEN",
}


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or an address, brackets allowed) is this machine."""
    host = host.strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` points at this machine (the simulator of the demo, tests, benchmarks)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return host is not None and is_loopback_host(host)


def insecure_credentials(api_base_url: str, whatsapp: Mapping[str, object]) -> list[str]:
    """The environment variables whose credential is missing or a simulator default, when
    ``api_base_url`` is not the loopback simulator; empty when all is well."""
    if is_loopback_url(api_base_url):
        return []
    insecure = []
    for variable, key in CREDENTIAL_SETTINGS.items():
        value = str(whatsapp.get(key) or "").strip()
        if not value or value in SIMULATOR_CREDENTIALS.values():
            insecure.append(variable)
    return insecure
