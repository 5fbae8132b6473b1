"""Display helpers of the inbox templates (message rendering comes from ``message_tags``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from townhall.core import clock
from townhall.inbox.models import Label
from townhall.inbox.queries import InboxView, ListFilters

register = template.Library()

# Template keyword -> ListFilters field.
_FILTER_FIELDS = {"view": "view", "team": "team_id", "label": "label_id", "state": "state"}


@register.simple_tag
def filter_url(filters: ListFilters, **changes: Any) -> str:
    """The list URL with ``filters`` changed, e.g. ``{% filter_url filters view="mine" %}``.

    Changing a filter starts again on the first page; the search stays.
    """
    values: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "view":
            values["view"] = InboxView(value or InboxView.ALL)
        elif key in ("team", "label"):
            values[_FILTER_FIELDS[key]] = int(value) if value else None
        else:
            values[_FILTER_FIELDS[key]] = value or ""
    query = urlencode(filters.replace(**values).params())
    return reverse("inbox:list") + (f"?{query}" if query else "")


@register.simple_tag
def list_time(value: datetime | None) -> str:
    """A ``<time>`` with the time for today's activity and the date for anything older (like
    a mail client); the full date and time on hover."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    if local.date() == clock.today():
        shown = formats.time_format(local, "TIME_FORMAT")
    else:
        shown = formats.date_format(local, "SHORT_DATE_FORMAT")
    return format_html(
        '<time class="inbox-row__time" datetime="{}" title="{}">{}</time>',
        local.isoformat(),
        formats.date_format(local, "DATETIME_FORMAT"),
        shown,
    )


# Characters shown around a search match in a list row.
SNIPPET_CONTEXT = 60


@register.simple_tag
def search_snippet(text: str, search: str) -> str:
    """``text`` cut to the part around the first match of ``search``, the match marked.

    Case-insensitive like the search; escaped, so a citizen's text can never become markup.
    """
    position = text.casefold().find(search.casefold()) if search else -1
    if position < 0 or len(text.casefold()) != len(text):
        # No match to mark (e.g. the name matched), or casefolding changed the length.
        return Truncator(text).chars(2 * SNIPPET_CONTEXT)
    end = position + len(search)
    start = max(0, position - SNIPPET_CONTEXT)
    stop = min(len(text), end + SNIPPET_CONTEXT)
    return format_html(
        "{}{}<mark>{}</mark>{}{}",
        "…" if start > 0 else "",
        text[start:position],
        text[position:end],
        text[end:stop],
        "…" if stop < len(text) else "",
    )


@register.filter
def staff_name(user: Any) -> str:
    """How a staff member appears to colleagues: full name, else the username."""
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


# A label colour as CSS may take it (hex or a colour name, nothing that could end the rule);
# anything else keeps the default grey.
_SAFE_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}")


@register.simple_tag(takes_context=True)
def label_colour_rules(context: template.Context, labels: Iterable[Label]) -> str:
    """One <style> block with the colours of ``labels`` (the page's label choices), for
    ``data-label`` chips and dots: the Content-Security-Policy allows no style attributes,
    and this block carries the response's nonce. Rendered once with the page; lists that
    htmx swaps in reuse its rules."""
    request = context.get("request")
    rules = "".join(
        f'.inbox-label[data-label="{label.pk}"],.inbox-dot[data-label="{label.pk}"]'
        f"{{--label-color:{label.color}}}"
        for label in labels
        if _SAFE_COLOUR.fullmatch(label.color)
    )
    if request is None or not rules:
        return ""
    # pk is an integer and the colour matched the pattern: nothing in ``rules`` needs escaping.
    return format_html('<style nonce="{}">{}</style>', request.csp_nonce, mark_safe(rules))  # noqa: S308
