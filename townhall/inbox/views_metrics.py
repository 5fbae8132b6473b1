"""The inbox metrics page: response and resolution times, backlog and daily volume.

Parse the period, check access (``access_inbox_metrics``), run the
queries of ``townhall.inbox.metrics``, render charts (``townhall.web.charts``) and the same
numbers as tables.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.formats import date_format
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from townhall.inbox.access import access_inbox_metrics
from townhall.inbox.metrics import (
    MAX_PERIOD_DAYS,
    DurationStats,
    GroupTimes,
    InboxMetrics,
    Period,
    inbox_metrics,
)
from townhall.web import charts
from townhall.web.http import HtmxHttpRequest, staff_login_required

SECONDS_PER_MINUTE = 60
MINUTES_PER_HOUR = 60


def format_duration(seconds: float | None) -> str:
    """A duration for people: "45 s", "12 min", "1 h 20 min" (German: "1 Std. 20 Min.").

    Rounded to whole minutes from one minute on; ``None`` (nothing measured) is a dash.
    """
    if seconds is None:
        return "–"
    if round(seconds) < SECONDS_PER_MINUTE:
        return _("%(seconds)s s") % {"seconds": round(seconds)}
    hours, minutes = divmod(round(seconds / SECONDS_PER_MINUTE), MINUTES_PER_HOUR)
    if not hours:
        return _("%(minutes)s min") % {"minutes": minutes}
    if not minutes:
        return _("%(hours)s h") % {"hours": hours}
    return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}


class PeriodForm(forms.Form):
    """The days the times and counts are about; both days are included."""

    start = forms.DateField(
        label=gettext_lazy("From"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    end = forms.DateField(
        label=gettext_lazy("To"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start: date | None = cleaned.get("start")
        end: date | None = cleaned.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError(_("The first day must not be after the last day."))
            if (end - start).days + 1 > MAX_PERIOD_DAYS:
                raise forms.ValidationError(
                    _("Please choose at most %(days)s days.") % {"days": MAX_PERIOD_DAYS}
                )
        return cleaned

    def period(self) -> Period:
        """The chosen period; call only after ``is_valid()``."""
        return Period(start=self.cleaned_data["start"], end=self.cleaned_data["end"])


def _minutes(seconds: float | None) -> int:
    return round((seconds or 0) / SECONDS_PER_MINUTE)


def _daily_chart(metrics: InboxMetrics) -> SafeString:
    daily = metrics.daily
    opened_label, resolved_label = _("Opened"), _("Resolved")
    return charts.line_chart(
        chart_id="inbox-daily",
        title=_("Conversations opened and resolved per day"),
        description=_(
            "One line for conversations opened (new or reopened) and one for conversations "
            "resolved on each day from %(start)s to %(end)s: %(opened)s opened, %(resolved)s "
            "resolved in total."
        )
        % {
            "start": date_format(metrics.period.start, "SHORT_DATE_FORMAT"),
            "end": date_format(metrics.period.end, "SHORT_DATE_FORMAT"),
            "opened": sum(daily.opened),
            "resolved": sum(daily.resolved),
        },
        x_labels=[date_format(day, "MONTH_DAY_FORMAT") for day in daily.days],
        series=[
            charts.Series(opened_label, tuple(daily.opened)),
            charts.Series(resolved_label, tuple(daily.resolved)),
        ],
        value_titles=[
            _("%(series)s: %(count)s in total") % {"series": label, "count": sum(values)}
            for label, values in ((opened_label, daily.opened), (resolved_label, daily.resolved))
        ],
        x_axis_label=_("Day"),
        y_axis_label=_("Conversations"),
    )


def _first_response_chart(staff: list[GroupTimes]) -> SafeString:
    measured = [row for row in staff if row.first_response.median is not None]
    return charts.bar_chart(
        chart_id="inbox-first-response-per-staff",
        title=_("Median first response per staff member"),
        description=" ".join(
            _("%(name)s: %(duration)s.")
            % {"name": row.name, "duration": format_duration(row.first_response.median)}
            for row in measured
        ),
        bars=[charts.Bar(row.name, _minutes(row.first_response.median)) for row in measured],
        value_axis_label=_("Median first response in minutes of office time"),
    )


def _backlog_chart(metrics: InboxMetrics) -> SafeString:
    return charts.bar_chart(
        chart_id="inbox-backlog-per-team",
        title=_("Open conversations per team"),
        description=" ".join(
            _("%(team)s: %(count)s.") % {"team": row.name, "count": row.total}
            for row in metrics.backlog
        ),
        bars=[charts.Bar(row.name, row.total) for row in metrics.backlog],
        value_axis_label=_("Conversations that are new, open or waiting for the citizen"),
    )


def _duration_cells(stats: DurationStats) -> dict[str, Any]:
    return {
        "count": stats.count,
        "median": format_duration(stats.median),
        "p90": format_duration(stats.p90),
    }


def _time_rows(groups: list[GroupTimes]) -> list[dict[str, Any]]:
    return [
        {
            "name": group.name,
            "first_response": _duration_cells(group.first_response),
            "resolution": _duration_cells(group.resolution),
        }
        for group in groups
    ]


@staff_login_required
@require_GET
def metrics_overview(request: HtmxHttpRequest) -> HttpResponse:
    # The same people who work in the inbox; the page shows no citizen's data.
    access_inbox_metrics(request.user)
    default = Period.last_days()
    form = PeriodForm(
        request.GET if request.GET else None,
        initial={"start": default.start, "end": default.end},
    )
    period = form.period() if form.is_bound and form.is_valid() else default
    metrics = inbox_metrics(period, no_staff=_("No staff member recorded"), no_team=_("No team"))
    daily = metrics.daily
    context = {
        "form": form,
        "metrics": metrics,
        "first_response": _duration_cells(metrics.first_response),
        "resolution": _duration_cells(metrics.resolution),
        "staff_rows": _time_rows(metrics.by_staff),
        "team_rows": _time_rows(metrics.by_team),
        # Newest day first, like the message log.
        "daily_rows": list(zip(daily.days, daily.opened, daily.resolved, strict=True))[::-1],
        "backlog_totals": {
            "new": sum(row.new for row in metrics.backlog),
            "open": sum(row.open for row in metrics.backlog),
            "waiting": sum(row.waiting for row in metrics.backlog),
            "total": metrics.backlog_total,
        },
        "daily_chart": _daily_chart(metrics),
        "first_response_chart": _first_response_chart(metrics.by_staff),
        "backlog_chart": _backlog_chart(metrics),
        "has_first_responses": any(
            row.first_response.median is not None for row in metrics.by_staff
        ),
    }
    return render(request, "inbox/metrics.html", context)
