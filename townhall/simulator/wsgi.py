"""WSGI entry point of the simulator process; always uses the simulator's own settings."""

import os

from django.core.wsgi import get_wsgi_application

# Forced, not defaulted: a parent process (pytest, Townhall) may export its own settings
# module, but the simulator must never run with Townhall's settings or database.
os.environ["DJANGO_SETTINGS_MODULE"] = "townhall.simulator.settings"

application = get_wsgi_application()
