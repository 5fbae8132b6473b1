"""The dashboard, the first page after login: each number as a chart and beside it as text.

Access: ``citysettings.view_statistics`` (anonymous numbers only). ``home`` (``/``) sends
everyone else to the first page of the navigation they may open.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from townhall.citizens.models import Offering
from townhall.citysettings.access import STATISTICS_PERMISSION
from townhall.inbox.metrics import DEFAULT_PERIOD_DAYS, Period, inbox_metrics
from townhall.inbox.views_metrics import format_duration
from townhall.staff import dashboard, subscribers
from townhall.staff.views_subscribers import _history_chart
from townhall.web import charts
from townhall.web.http import HtmxHttpRequest, staff_login_required
from townhall.web.navigation import visible_entries


def can_view_dashboard(user: object) -> bool:
    return bool(
        getattr(user, "is_active", False)
        and getattr(user, "is_staff", False)
        and user.has_perm(STATISTICS_PERMISSION)  # type: ignore[attr-defined]
    )


@staff_login_required
@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    """``/``: the dashboard for who may see it, else the first page the user may open."""
    entries = visible_entries(request.user)
    if not entries:
        # Logged in, but no role yet: say so instead of a bare "access denied".
        return render(request, "staff/no_role.html", status=403)
    return redirect(entries[0].url)


# Characters of a post title that fit the bar chart's label column.
BAR_LABEL_CHARS = 24


def _short(title: str) -> str:
    if not title:
        return "–"
    return title if len(title) <= BAR_LABEL_CHARS else title[: BAR_LABEL_CHARS - 1] + "…"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{round(value * 100)} %"


def _daily_chart(
    chart_id: str,
    title: str,
    description: str,
    series: dashboard.DailySeries,
    labels: dict[str, str],
    y_label: str,
) -> SafeString:
    return charts.line_chart(
        chart_id=chart_id,
        title=title,
        description=description,
        x_labels=[date_format(day, "MONTH_DAY_FORMAT") for day in series.days],
        series=[
            charts.Series(labels.get(name, name), tuple(values))
            for name, values in series.values.items()
        ],
        x_axis_label=_("Day"),
        y_axis_label=y_label,
    )


@staff_login_required
@require_GET
def dashboard_view(request: HtmxHttpRequest) -> HttpResponse:
    if not can_view_dashboard(request.user):
        raise PermissionDenied
    language = get_language() or "de"
    offering_labels = dict(Offering.choices)
    history = subscribers.subscriber_history(days=dashboard.DAYS)
    topics = dashboard.topic_history(language)
    weeks = dashboard.joins_and_leaves()
    traffic = dashboard.messages_per_day()
    posts = dashboard.last_post_rates()
    inbox = inbox_metrics(
        Period.last_days(DEFAULT_PERIOD_DAYS), no_staff=_("Nobody"), no_team=_("No team")
    )
    direction_labels = {"in": _("Received"), "out": _("Sent")}
    week_labels = [date_format(week.monday, "SHORT_DATE_FORMAT") for week in weeks]

    context = {
        "days": dashboard.DAYS,
        "weeks_count": dashboard.WEEKS,
        "subscribers_chart": _history_chart(history),
        "subscribers_now": [
            (offering_labels[offering], values[-1], values[-1] - values[0])
            for offering, values in history.values.items()
        ],
        "topics_chart": _daily_chart(
            "topics-over-time",
            _("Topics over time"),
            _("Citizens who chose each topic at the end of each day."),
            topics,
            {},
            _("Citizens"),
        )
        if topics.values
        else None,
        "topics_now": [
            (name, values[-1], values[-1] - values[0]) for name, values in topics.values.items()
        ],
        "weeks_chart": charts.line_chart(
            chart_id="joins-and-leaves",
            title=_("Joins and leaves per week"),
            description=_("Subscriptions confirmed and ended per week (all offerings)."),
            x_labels=week_labels,
            series=[
                charts.Series(_("Joins"), tuple(week.joins for week in weeks)),
                charts.Series(_("Leaves"), tuple(week.leaves for week in weeks)),
            ],
            x_axis_label=_("Week starting"),
            y_axis_label=_("Citizens"),
        ),
        "weeks": list(reversed(weeks)),
        "traffic_chart": _daily_chart(
            "messages-per-day",
            _("Messages per day"),
            _("Messages received from citizens and sent to them per day."),
            traffic,
            direction_labels,
            _("Messages"),
        ),
        "traffic_totals": [
            (direction_labels[name], sum(values), values[-1])
            for name, values in traffic.values.items()
        ],
        "posts": posts,
        "posts_chart": charts.bar_chart(
            chart_id="read-rates",
            title=_("Read rate of the last posts"),
            description=" ".join(
                _("%(title)s: %(read)s of %(audience)s read.")
                % {"title": post.title, "read": post.read, "audience": post.audience}
                for post in posts
            ),
            bars=[
                charts.Bar(post.title or "–", round((post.read_rate or 0) * 100)) for post in posts
            ],
            value_axis_label=_("Read (percent of the audience)"),
        )
        if posts
        else None,
        "posts_rates": [
            (post, _percent(post.delivery_rate), _percent(post.read_rate)) for post in posts
        ],
        "inbox": inbox,
        "backlog_chart": charts.bar_chart(
            chart_id="open-conversations",
            title=_("Open conversations"),
            description=" ".join(
                _("%(team)s: %(count)s.") % {"team": row.name, "count": row.total}
                for row in inbox.backlog
            ),
            bars=[charts.Bar(row.name, row.total) for row in inbox.backlog],
            value_axis_label=_("Conversations not resolved"),
        ),
        "response_chart": charts.bar_chart(
            chart_id="first-response-times",
            title=_("First response by team"),
            description=" ".join(
                _("%(team)s: median %(median)s.")
                % {"team": row.name, "median": format_duration(row.first_response.median)}
                for row in inbox.by_team
            ),
            bars=[
                charts.Bar(row.name, round((row.first_response.median or 0) / 60))
                for row in inbox.by_team
            ],
            value_axis_label=_("Median minutes of office time"),
        )
        if inbox.by_team
        else None,
        "first_response_median": format_duration(inbox.first_response.median),
        "first_response_p90": format_duration(inbox.first_response.p90),
        "response_rows": [
            (row.name, format_duration(row.first_response.median), row.first_response.count)
            for row in inbox.by_team
        ],
    }
    return render(request, "staff/dashboard.html", context)
