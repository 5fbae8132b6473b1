from datetime import datetime, timedelta, timezone

import pytest

# A Wednesday morning in June, Berlin summer time: outside the default quiet hours.
WEDNESDAY_MORNING = datetime(2027, 6, 16, 10, 0, tzinfo=timezone(timedelta(hours=2)))


@pytest.fixture
def daytime(time_machine):
    """The clock stands (ticking) at a weekday morning, outside quiet hours."""
    time_machine.move_to(WEDNESDAY_MORNING, tick=True)
    return WEDNESDAY_MORNING
