"""Staff pages: parse the request, check access, call one action or query, render."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from townhall.citizens.models import Citizen
from townhall.citizens.permissions import may_search_by_number
from townhall.core import clock
from townhall.staff import conversations
from townhall.staff.access import access_citizen, access_inbound_message, access_message_log
from townhall.web.http import HtmxHttpRequest, staff_login_required
from townhall.whatsapp.actions import do_retry_inbound_message
from townhall.whatsapp.service_window import service_window_closes_at

SEARCH_MAX_CHARS = 100


@staff_login_required
@require_GET
def message_log(request: HtmxHttpRequest) -> HttpResponse:
    access_message_log(request.user)
    search = request.GET.get("q", "").strip()[:SEARCH_MAX_CHARS]
    by_number = may_search_by_number(request.user)
    page = conversations.conversations_page(search, request.GET.get("page"), by_number=by_number)
    context = {"page": page, "search": search, "may_search_by_number": by_number}
    if request.htmx and request.htmx.target == "conversation-list":
        return render(request, "staff/_conversation_list.html", context)
    return render(request, "staff/message_log.html", context)


def _history_context(citizen: Citizen, version: str | None = None) -> dict[str, object]:
    # The version is taken before the history is read: a change in between makes the next
    # poll render again instead of being missed.
    if version is None:
        version = conversations.history_version(citizen)
    return {
        "citizen": citizen,
        "history": conversations.citizen_history(citizen),
        "history_version": version,
        "service_window_closes_at": service_window_closes_at(citizen.last_inbound_at),
        "now": clock.now(),
    }


@staff_login_required
@require_GET
def citizen_log(request: HtmxHttpRequest, citizen_id: int) -> HttpResponse:
    """Everything exchanged with one citizen. Replies are written in the inbox (one reply
    path: window check, signature, conversation state and metrics live there)."""
    citizen = access_citizen(request.user, citizen_id)
    return render(
        request,
        "staff/citizen_log.html",
        {**_history_context(citizen), "conversation_id": conversations.conversation_id(citizen)},
    )


@staff_login_required
@require_GET
def citizen_history(request: HtmxHttpRequest, citizen_id: int) -> HttpResponse:
    """The history fragment that the citizen page polls; 204 while nothing changed."""
    citizen = access_citizen(request.user, citizen_id)
    version = conversations.history_version(citizen)
    if request.GET.get("version") == version:
        return HttpResponse(status=204)
    return render(request, "staff/_history.html", _history_context(citizen, version))


@staff_login_required
@require_POST
def retry_inbound_message(
    request: HtmxHttpRequest, citizen_id: int, message_id: int
) -> HttpResponse:
    """Give a message whose handling failed (bot, inbox) fresh attempts, e.g. after a fix.

    A message that is no longer parked (a second click, or handled meanwhile) is left alone;
    either way the citizen's page shows its current state.
    """
    message = access_inbound_message(request.user, citizen_id, message_id)
    do_retry_inbound_message(message.pk, acting_user=request.user)
    page_url = reverse("staff:citizen_log", args=[citizen_id])
    return redirect(f"{page_url}#message-{message.pk}")
