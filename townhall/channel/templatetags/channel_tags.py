from __future__ import annotations

from django import template
from django.utils.translation import ngettext

from townhall.channel import queries
from townhall.channel.models import Post

register = template.Library()


@register.filter
def post_title(post: Post) -> str:
    return queries.title_of(post)


@register.filter
def percent_of(part: int, whole: int) -> str:
    """``part`` as a percentage of ``whole`` for CSS widths ("0" when whole is 0)."""
    if not whole:
        return "0"
    return f"{min(100.0, 100.0 * part / whole):.2f}"


@register.filter
def duration(seconds: int | None) -> str:
    """A validity in words: "30 minutes", "3 hours"."""
    if not seconds:
        return ""
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    minutes = max(1, seconds // 60)
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
