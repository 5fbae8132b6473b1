"""WSGI entry point, served by granian (see docs/architecture.md for the measurement)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "townhall.settings")

application = get_wsgi_application()
