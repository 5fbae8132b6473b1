"""The per-post report and the table comparing posts (staff pages under /kanal/)."""

from __future__ import annotations

import csv

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.formats import date_format
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from townhall.channel import poll_queries, report
from townhall.channel.access import access_post, access_post_list
from townhall.channel.sending_rule import post_poll
from townhall.web import charts
from townhall.web.http import HtmxHttpRequest, staff_login_required

BUCKET_FORMATS = {
    "minute": "TIME_FORMAT",
    "hour": "SHORT_DATETIME_FORMAT",
    "day": "SHORT_DATE_FORMAT",
}


def _timeline_chart(timeline: report.Timeline) -> SafeString | None:
    if not timeline.at:
        return None
    delivered_label, read_label = _("Delivered"), _("Read")
    delivered_total = timeline.delivered[-1]
    read_total = timeline.read[-1]
    return charts.line_chart(
        chart_id="post-timeline",
        title=_("Deliveries and reads over time"),
        description=_(
            "Messages of this post delivered and read so far, counted from WhatsApp's status "
            "reports: %(delivered)s delivery reports and %(read)s read reports in total."
        )
        % {"delivered": delivered_total, "read": read_total},
        x_labels=[date_format(at, BUCKET_FORMATS[timeline.bucket]) for at in timeline.at],
        series=[
            charts.Series(delivered_label, tuple(timeline.delivered)),
            charts.Series(read_label, tuple(timeline.read)),
        ],
        value_titles=[
            _("%(series)s: %(count)s in total")
            % {"series": delivered_label, "count": delivered_total},
            _("%(series)s: %(count)s in total") % {"series": read_label, "count": read_total},
        ],
        x_axis_label=_("Time"),
        y_axis_label=_("Messages"),
    )


@staff_login_required
@require_GET
def post_report(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    post = access_post(request.user, post_id)
    poll = post_poll(post)
    post_report = report.post_report(post)
    context = {
        "post": post,
        "report": post_report,
        "progress": post_report.progress,
        "timeline_chart": _timeline_chart(post_report.timeline),
        "timeline_rows": list(
            zip(
                post_report.timeline.at,
                post_report.timeline.delivered,
                post_report.timeline.read,
                strict=True,
            )
        ),
        "timeline_format": BUCKET_FORMATS[post_report.timeline.bucket],
        "poll": poll,
        "poll_results": poll_queries.poll_results(poll) if poll is not None else None,
    }
    return render(request, "channel/report.html", context)


COLUMNS = report.SORT_KEYS


def _sort(request: HtmxHttpRequest) -> str:
    sort = request.GET.get("sort", "-sent")
    return sort if sort.lstrip("-") in report.SORT_KEYS else "-sent"


@staff_login_required
@require_GET
def compare(request: HtmxHttpRequest) -> HttpResponse:
    access_post_list(request.user)
    sort = _sort(request)
    headers = []
    labels = {
        "sent": _("Sent"),
        "audience": _("Audience"),
        "read_rate": _("Read rate"),
        "reactions": _("Reactions"),
        "unsubscribes": _("Unsubscribes (24 h)"),
        "link_opens": _("Link opens"),
        "signups": _("Sign-ups"),
    }
    for key in COLUMNS:
        is_current = sort.lstrip("-") == key
        descending = sort.startswith("-")
        # A click on the current column flips the order; another column starts descending.
        next_sort = key if is_current and descending else f"-{key}"
        headers.append(
            {
                "key": key,
                "label": labels[key],
                "url": f"?sort={next_sort}",
                "aria_sort": ("descending" if descending else "ascending") if is_current else "",
            }
        )
    rows = report.compare_rows(sort)
    if request.GET.get("format") == "csv":
        return _csv(rows)
    context = {
        "rows": rows,
        "headers": headers,
        "sort": sort,
        "csv_url": f"?sort={sort}&format=csv",
    }
    return render(request, "channel/compare.html", context)


def _csv(rows: list[report.CompareRow]) -> HttpResponse:
    """The compare table as CSV: numbers only, no personal data."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="posts-compare.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "post",
            "title",
            "sent_at",
            "audience",
            "handed_over",
            "delivered",
            "read",
            "read_rate_percent",
            "reactions",
            "unsubscribes_24h",
            "link_opens",
            "signups",
        ]
    )
    for row in rows:
        published = row.post.published_at
        writer.writerow(
            [
                row.post.pk,
                # A title starting with = + - @ would be a formula in spreadsheets.
                ("'" + row.title) if row.title[:1] in "=+-@" and row.title else row.title,
                published.isoformat() if published else "",
                row.audience,
                row.handed_over,
                row.reached,
                row.read,
                "" if row.read_rate is None else row.read_rate,
                row.reactions,
                row.unsubscribes,
                row.link_opens,
                row.signups,
            ]
        )
    return response
