"""Staff pages about subscribers: statistics, search by number, one citizen's consent record,
and export and erasure on the citizen's request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from townhall.citizens.actions import do_erase_citizen, do_record_data_export, do_revoke_links
from townhall.citizens.models import ConsentRecord, Offering
from townhall.citizens.queries import citizen_export, citizen_subscriptions
from townhall.core import clock
from townhall.staff import subscribers
from townhall.staff.access import (
    StaffUser,
    access_subscriber,
    access_subscriber_erasure,
    access_subscriber_export,
    access_subscriber_link_revocation,
    access_subscriber_search,
    access_subscriber_statistics,
)
from townhall.staff.actions import do_search_by_number
from townhall.web import charts
from townhall.web.http import HtmxHttpRequest, staff_login_required

SEARCH_MAX_CHARS = 40


def _is_allowed(access: Callable[..., Any], user: StaffUser, *args: Any) -> bool:
    """Whether an ``access_*`` function lets ``user`` through: to show only usable controls."""
    try:
        access(user, *args)
    except PermissionDenied:
        return False
    return True


def _language() -> str:
    return get_language() or "de"


def _history_chart(history: subscribers.SubscriberHistory) -> SafeString:
    labels = dict(Offering.choices)
    first_day = date_format(history.days[0], "SHORT_DATE_FORMAT")
    last_day = date_format(history.days[-1], "SHORT_DATE_FORMAT")
    summaries = [
        _("%(offering)s: %(start)s on %(first_day)s, %(end)s on %(last_day)s.")
        % {
            "offering": labels[offering],
            "start": values[0],
            "first_day": first_day,
            "end": values[-1],
            "last_day": last_day,
        }
        for offering, values in history.values.items()
    ]
    return charts.line_chart(
        chart_id="subscribers-over-time",
        title=_("Subscribers over time"),
        description=" ".join(
            [_("Subscribers at the end of each day, one line per offering."), *summaries]
        ),
        x_labels=[date_format(day, "MONTH_DAY_FORMAT") for day in history.days],
        series=[
            charts.Series(str(labels[offering]), tuple(values))
            for offering, values in history.values.items()
        ],
        value_titles=[
            _("%(offering)s: %(count)s on %(day)s")
            % {"offering": labels[offering], "count": values[-1], "day": last_day}
            for offering, values in history.values.items()
        ],
        x_axis_label=_("Day"),
        y_axis_label=_("Subscribers"),
    )


def _topic_chart(topics: list[subscribers.TopicCount]) -> SafeString:
    return charts.bar_chart(
        chart_id="subscribers-per-topic",
        title=_("Subscribers per topic"),
        description=" ".join(
            _("%(topic)s: %(count)s.") % {"topic": topic.name, "count": topic.subscribers}
            for topic in topics
        ),
        bars=[charts.Bar(topic.name, topic.subscribers) for topic in topics],
        value_axis_label=_("Subscribers of the info channel"),
    )


@staff_login_required
@require_GET
def subscriber_overview(request: HtmxHttpRequest) -> HttpResponse:
    access_subscriber_statistics(request.user)
    number = request.GET.get("number")
    search: dict[str, Any] | None = None
    if number is not None:
        access_subscriber_search(request.user)
        number = number.strip()[:SEARCH_MAX_CHARS]
        results, has_more = do_search_by_number(number, acting_user=request.user, request=request)
        search = {
            "number": number,
            "is_searchable": subscribers.is_searchable(number),
            "results": results,
            "has_more": has_more,
        }
    language = _language()
    history = subscribers.subscriber_history()
    topics = subscribers.topic_counts(language)
    labels = dict(Offering.choices)
    context = {
        "counts": subscribers.subscriber_counts(),
        "topics": topics,
        "history_rows": [
            (day, [values[index] for values in history.values.values()])
            for index, day in reversed(list(enumerate(history.days)))
        ],
        "history_offerings": [labels[offering] for offering in history.values],
        "history_chart": _history_chart(history),
        "topic_chart": _topic_chart(topics),
        "history_days": len(history.days),
        "can_search": search is not None or _is_allowed(access_subscriber_search, request.user),
        "search": search,
        "search_min_digits": subscribers.SEARCH_MIN_DIGITS,
        "search_max_results": subscribers.SEARCH_MAX_RESULTS,
    }
    return render(request, "staff/subscribers.html", context)


@staff_login_required
@require_GET
def subscriber_detail(request: HtmxHttpRequest, citizen_id: int) -> HttpResponse:
    citizen = access_subscriber(request.user, citizen_id)
    language = _language()
    is_erased = citizen.erased_at is not None
    context = {
        "citizen": citizen,
        "is_erased": is_erased,
        "current": citizen_subscriptions(citizen, language),
        "history": subscribers.consent_history(citizen, language),
        "can_export": not is_erased
        and _is_allowed(access_subscriber_export, request.user, citizen.pk),
        "can_erase": not is_erased
        and _is_allowed(access_subscriber_erasure, request.user, citizen.pk),
        "can_revoke_links": not is_erased
        and _is_allowed(access_subscriber_link_revocation, request.user, citizen.pk),
    }
    return render(request, "staff/subscribers_citizen.html", context)


@staff_login_required
@require_POST
def subscriber_export(request: HttpRequest, citizen_id: int) -> HttpResponse:
    """Download everything stored about the citizen, at their request, and record that."""
    citizen = access_subscriber_export(request.user, citizen_id)
    if citizen.erased_at is not None:
        messages.error(
            request, _("This citizen's data has been erased; there is nothing left to export.")
        )
        return redirect("staff:subscriber", citizen.pk)
    with transaction.atomic():
        # Recorded first, so the export shows the citizen this very request as well.
        do_record_data_export(
            citizen, channel=ConsentRecord.Channel.STAFF, acting_user=request.user
        )
        data = citizen_export(citizen)
    filename = f"citizen-{citizen.pk}-{clock.today():%Y-%m-%d}.json"
    return JsonResponse(
        data,
        json_dumps_params={"ensure_ascii": False, "indent": 2},
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@staff_login_required
@require_POST
def subscriber_revoke_links(request: HttpRequest, citizen_id: int) -> HttpResponse:
    """Make every preferences and export link the citizen was sent invalid, at their
    request (e.g. a phone shared with others)."""
    citizen = access_subscriber_link_revocation(request.user, citizen_id)
    if citizen.erased_at is None:
        do_revoke_links(citizen, channel=ConsentRecord.Channel.STAFF, acting_user=request.user)
        messages.success(request, _("All links sent to this citizen are now invalid."))
    return redirect("staff:subscriber", citizen.pk)


@staff_login_required
@require_http_methods(["GET", "POST"])
def subscriber_erase(request: HttpRequest, citizen_id: int) -> HttpResponse:
    """Ask for confirmation (GET), then erase the citizen's personal data at once (POST).

    Unlike the citizen's own LÖSCHEN, no goodbye message is sent: the citizen asked the city
    directly, so nothing has to wait for WhatsApp.
    """
    citizen = access_subscriber_erasure(request.user, citizen_id)
    if citizen.erased_at is not None:
        messages.info(request, _("This citizen's data has already been erased."))
        return redirect("staff:subscriber", citizen.pk)
    if request.method == "POST":
        do_erase_citizen(citizen, channel=ConsentRecord.Channel.STAFF, acting_user=request.user)
        messages.success(
            request,
            _("The personal data of citizen #%(id)s has been erased.") % {"id": citizen.pk},
        )
        return redirect("staff:subscribers")
    return render(request, "staff/subscribers_erase.html", {"citizen": citizen})
