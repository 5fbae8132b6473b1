"""Staff pages: parse the request, check access, call one action or query, render."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from townhall.citizens.models import Citizen
from townhall.citizens.permissions import may_search_by_number
from townhall.core import clock
from townhall.staff import conversations
from townhall.staff.access import access_citizen, access_inbound_message, access_message_log
from townhall.staff.forms import ReplyForm
from townhall.whatsapp.actions import do_queue_message, do_retry_inbound_message
from townhall.whatsapp.outbound import InvalidOutboundMessage, Text
from townhall.whatsapp.policy import Purpose, SendRefused
from townhall.whatsapp.service_window import service_window_closes_at

SEARCH_MAX_CHARS = 100

View = Callable[..., HttpResponse]


class HtmxHttpRequest(HttpRequest):
    """A request that passed django-htmx's middleware."""

    htmx: HtmxDetails


def staff_login_required(view: View) -> View:
    """Send anonymous users to the login page, also from HTMX requests; never cache.

    Django's ``login_required`` answers an HTMX poll with a redirect that htmx would follow
    and swap the login form into the page; this tells htmx to load the login page instead.
    Staff pages show personal data, so browsers must not keep them (shared office PCs).
    """

    @wraps(view)
    @never_cache
    def wrapper(request: HtmxHttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.htmx:
            current_url = request.htmx.current_url_abs_path or request.get_full_path()
            login = redirect_to_login(current_url)
            return HttpResponseClientRedirect(login.url)
        return redirect_to_login(request.get_full_path())

    return wrapper


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
@require_http_methods(["GET", "POST"])
def citizen_log(request: HtmxHttpRequest, citizen_id: int) -> HttpResponse:
    citizen = access_citizen(request.user, citizen_id)
    form = ReplyForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            message = do_queue_message(
                citizen.wa_id,
                Text(form.cleaned_data["body"]),
                purpose=Purpose.CHAT,
                acting_user=request.user,
            )
        except InvalidOutboundMessage as error:
            form.add_error(
                "body", _("WhatsApp does not accept this message: %(reason)s") % {"reason": error}
            )
        except SendRefused:
            form.add_error(
                "body",
                _(
                    "This citizen has not subscribed to the chat (or has left it), so we may not "
                    "write to them. Nothing was sent."
                ),
            )
        else:
            if not request.htmx:
                # Without JavaScript, the anchor scrolls the history to the new message.
                page_url = reverse("staff:citizen_log", args=[citizen.pk])
                return redirect(f"{page_url}#message-{message.pk}")
            # The new, empty form replaces the sent one; the history follows out of band.
            return render(
                request,
                "staff/_reply_sent.html",
                {**_history_context(citizen), "form": ReplyForm()},
            )

    if request.htmx and form.is_bound:
        return render(request, "staff/_reply_form.html", {"citizen": citizen, "form": form})
    return render(request, "staff/citizen_log.html", {**_history_context(citizen), "form": form})


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
