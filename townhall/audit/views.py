"""The audit log page and its CSV export: check access, filter, render."""

from __future__ import annotations

import csv

import orjson
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from townhall.audit import queries
from townhall.audit.access import access_audit_log
from townhall.audit.actions import Action, do_audit
from townhall.audit.forms import AuditFilterForm
from townhall.core import clock
from townhall.web.http import HtmxHttpRequest, staff_login_required

PAGE_SIZE = 50
CSV_COLUMNS = ["time", "user", "action", "object_type", "object_id", "details", "ip_address"]


def _filter_form(request: HtmxHttpRequest) -> AuditFilterForm:
    return AuditFilterForm(request.GET or None, actor_names=queries.actor_names())


@staff_login_required
@require_GET
def audit_log(request: HtmxHttpRequest) -> HttpResponse:
    access_audit_log(request.user)
    form = _filter_form(request)
    audit_filter = form.audit_filter() if form.is_bound else queries.AuditFilter()
    page = Paginator(queries.audit_entries(audit_filter), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/audit_log.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@staff_login_required
@require_GET
def audit_log_export(request: HtmxHttpRequest) -> StreamingHttpResponse:
    """The filtered entries as CSV (UTF-8 with BOM, which spreadsheet programs expect)."""
    access_audit_log(request.user)
    form = _filter_form(request)
    audit_filter = form.audit_filter() if form.is_bound else queries.AuditFilter()
    entries = queries.audit_entries(audit_filter)
    do_audit(
        Action.AUDIT_LOG_EXPORTED,
        acting_user=request.user,
        details={"entries": entries.count(), "action_filter": audit_filter.action},
        request=request,
    )
    writer = csv.writer(_Echo())

    def rows():
        yield "\ufeff" + writer.writerow(CSV_COLUMNS)
        for entry in entries.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    timezone.localtime(entry.created_at).isoformat(),
                    entry.actor_name,
                    entry.action,
                    entry.target_type,
                    entry.target_id,
                    orjson.dumps(entry.details).decode(),
                    entry.ip_address or "",
                ]
            )

    filename = f"audit-log-{clock.today():%Y-%m-%d}.csv"
    return StreamingHttpResponse(
        rows(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
