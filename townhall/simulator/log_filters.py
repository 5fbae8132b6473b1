"""Logging filter that keeps phone numbers out of the simulator's log lines."""

import logging
import re

# wa_ids are 6 to 15 digits; wamids and media ids in our logs are not numbers of that shape
# except media ids, which lose nothing worth keeping by being masked too.
LONG_NUMBER_RE = re.compile(r"\d{6,}")


class RedactNumbersFilter(logging.Filter):
    """Mask long digit runs (phone numbers in URLs, e.g. ``/phone/<wa_id>/``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = LONG_NUMBER_RE.sub("…", message)
        if redacted != message:
            record.msg = redacted
            record.args = ()
        return True
