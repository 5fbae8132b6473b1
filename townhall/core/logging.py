"""Logging filters that keep credentials out of log lines.

Signed links (``/einstellungen/<token>/``, ``/meine-daten/<token>/``) are bearer
credentials: whoever has one may change a citizen's subscriptions, erase them or download
their data. Django logs the path of every 4xx and 5xx answer (``django.request``, and
``django.server`` under runserver); this filter replaces the token in any such path.
"""

from __future__ import annotations

import logging
import re

# The public paths whose second segment is a signed token (citizens/urls.py).
SIGNED_LINK_PREFIXES = ("einstellungen", "meine-daten")
REDACTED = "[token]"
_TOKEN_IN_PATH = re.compile(
    r"(/(?:" + "|".join(re.escape(prefix) for prefix in SIGNED_LINK_PREFIXES) + r")/)[^/\s?#\"']+"
)


def redact_link_tokens(text: str) -> str:
    return _TOKEN_IN_PATH.sub(rf"\g<1>{REDACTED}", text)


class RedactLinkTokensFilter(logging.Filter):
    """Rewrites a record's message when it contains a signed-link path; never drops it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        redacted = redact_link_tokens(message)
        if redacted != message:
            record.msg = redacted
            record.args = ()
        return True
