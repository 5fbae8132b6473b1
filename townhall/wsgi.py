"""WSGI entry point, served by granian (see docs/architecture.md for the measurement).

Webhook POSTs from Meta take a shortcut past Django's middleware
(``townhall.whatsapp.fast_webhook``); every other request is Django's.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "townhall.settings")

django_application = get_wsgi_application()

from townhall.core import collector  # noqa: E402
from townhall.whatsapp.fast_webhook import WebhookShortcut  # noqa: E402 - needs django.setup()

application = WebhookShortcut(django_application)
collector.freeze_start_up_objects()
