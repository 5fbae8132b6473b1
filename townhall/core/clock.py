"""The one place Townhall reads the time.

Business code asks ``clock.now()`` (an aware UTC datetime) or ``clock.today()`` (the city's
local date), never ``datetime.now()`` or ``time.time()``. Tests move the clock with
time-machine; the end-to-end processes (web server, worker, simulator) follow the test's
clock through ``TOWNHALL_CLOCK_OFFSET_SECONDS``, which ``follow_test_clock()`` applies when
their settings load. Without that variable nothing is patched and time is the machine's.
"""

from __future__ import annotations

import os
import time
from datetime import date, datetime

from django.utils import timezone

# Seconds to add to the machine's clock; set only by the test harness for child processes.
OFFSET_VARIABLE = "TOWNHALL_CLOCK_OFFSET_SECONDS"

_travel: object | None = None


def now() -> datetime:
    """The current instant, timezone-aware (UTC)."""
    return timezone.now()


def today() -> date:
    """Today's date in the city's time zone (``settings.TIME_ZONE``)."""
    return timezone.localdate(now())


def offset_from_machine_clock() -> float:
    """How far this process's clock is from the machine's (0 unless a test travelled)."""
    try:
        import time_machine
    except ImportError:
        return 0.0
    if not time_machine.escape_hatch.is_travelling():
        return 0.0
    return time.time() - time_machine.escape_hatch.time.time()


def environment_for_children() -> dict[str, str]:
    """Environment that makes a child process's clock run with this one's."""
    offset = offset_from_machine_clock()
    return {OFFSET_VARIABLE: repr(offset)} if abs(offset) > 0.001 else {}


def follow_test_clock() -> None:
    """Shift this process's clock by ``TOWNHALL_CLOCK_OFFSET_SECONDS``, letting it tick.

    Called once when settings load. The shift needs time-machine (a dev dependency): the
    variable is set by the test harness only, never in production.
    """
    global _travel
    offset = os.environ.get(OFFSET_VARIABLE)
    if not offset or _travel is not None:
        return
    import time_machine

    traveller = time_machine.travel(time.time() + float(offset), tick=True)
    traveller.start()
    _travel = traveller
