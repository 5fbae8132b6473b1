"""WSGI entry point of the simulator process; always uses the simulator's own settings.

Send requests take a shortcut past Django's middleware (``graph_send.SendShortcut``); every
other request is Django's.
"""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

# Forced, not defaulted: a parent process (pytest, Townhall) may export its own settings
# module, but the simulator must never run with Townhall's settings or database.
os.environ["DJANGO_SETTINGS_MODULE"] = "townhall.simulator.settings"

django_application = get_wsgi_application()

from townhall.simulator import collector  # noqa: E402
from townhall.simulator.graph_send import SendShortcut  # noqa: E402 (needs Django set up)

application = SendShortcut(django_application, max_body_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)

# Without this, full collections walked every stored message (see collector).
collector.freeze_start_up_objects()
collector.freeze_survivors_of_full_collections()
