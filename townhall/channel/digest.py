"""The daily summary ("tägliche Zusammenfassung"): when it goes, which posts, to whom.

Citizens who chose ``NotificationMode.DIGEST`` get no normal post at once (the fan-out
skips them, see ``audience.post_recipients``); instead, once a day at
``CHANNEL["DIGEST_TIME"]`` city time, one message lists the normal posts of their topics
published since the previous day's summary time. Urgent alerts reach them at once as
everyone else. Days without such posts bring no message. The state changes (``Digest``,
``DigestDelivery``, the queued messages) are ``actions.do_send_due_digest``'s.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Prefetch, QuerySet

from townhall.channel.models import Post, PostVersion
from townhall.channel.public_queries import PUBLIC_STATES
from townhall.citizens.models import Citizen, NotificationMode, Topic
from townhall.citizens.policy import info_recipients


def digest_time() -> time:
    spec = str(settings.CHANNEL.get("DIGEST_TIME") or "").strip()
    try:
        return time.fromisoformat(spec)
    except ValueError as error:
        raise ImproperlyConfigured(
            f'CHANNEL["DIGEST_TIME"] must look like 18:00, not {spec!r}'
        ) from error


def digest_instant(day: date) -> datetime:
    """When the summary of ``day`` is due: the wall-clock time in the city's zone, so it
    stays at 18:00 across DST changes (a time the clocks skip counts as the one after)."""
    city = ZoneInfo(settings.TIME_ZONE)
    return datetime.combine(day, digest_time(), tzinfo=city)


def due_day(now: datetime) -> date:
    """The latest day whose summary time has come at ``now``: today from the summary time
    on, before it yesterday (so a worker that was down catches up on its next run)."""
    today = now.astimezone(ZoneInfo(settings.TIME_ZONE)).date()
    return today if now >= digest_instant(today) else today - timedelta(days=1)


def period(day: date) -> tuple[datetime, datetime]:
    """(start, end] of the posts in ``day``'s summary: previous summary time to this one."""
    return digest_instant(day - timedelta(days=1)), digest_instant(day)


def digest_posts(start: datetime, end: datetime) -> QuerySet[Post]:
    """Normal public posts published in (start, end], oldest first, with versions and topics
    (three queries)."""
    return (
        Post.objects.filter(
            kind=Post.Kind.NORMAL,
            state__in=PUBLIC_STATES,
            published_at__gt=start,
            published_at__lte=end,
        )
        .order_by("published_at", "pk")
        .prefetch_related(
            Prefetch("versions", queryset=PostVersion.objects.order_by("language")),
            Prefetch("topics", queryset=Topic.objects.order_by("position", "id")),
        )
    )


def digest_recipients() -> QuerySet[Citizen]:
    """Info subscribers (consent, not erased) who chose the daily summary."""
    return info_recipients().filter(notification_mode=NotificationMode.DIGEST)
