"""Session rules of the staff app: sessions end after inactivity, and a role that requires
two-factor login gets no page before its code was entered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRedirect

from townhall.core import clock
from townhall.staff.two_factor import has_two_factor_device, requires_two_factor

# The time of the last activity travels in a signed cookie bound to the session, so
# tracking it costs no database write per page.
ACTIVITY_COOKIE = "townhall_activity"
ACTIVITY_SALT = "townhall.staff.activity"
# Set once per login when the user needs no second factor, so pages skip the two queries.
NO_SECOND_FACTOR_KEY = "townhall_no_second_factor"
# Sent by pages' background polls (hx-headers): a poll is not the person being active.
BACKGROUND_HEADER = "X-Townhall-Background"
# Pages a signed-in user reaches before the second factor: logging in and out, the second
# factor itself, password reset, language switch; and the citizens' public pages.
OPEN_URL_NAMES = {
    "staff:login",
    "staff:logout",
    "staff:two_factor_verify",
    "staff:two_factor_setup",
    "staff:password_reset",
    "staff:password_reset_done",
    "staff:password_reset_confirm",
    "staff:password_reset_complete",
    "set_language",
}
PUBLIC_NAMESPACES = {"citizens", "channel_public", "whatsapp"}


def _session_mark(request: HttpRequest) -> str:
    return salted_hmac(ACTIVITY_SALT, request.session.session_key or "").hexdigest()[:16]


def _last_activity(request: HttpRequest) -> float | None:
    value = request.get_signed_cookie(ACTIVITY_COOKIE, default=None, salt=ACTIVITY_SALT)
    if not value or ":" not in value:
        return None
    mark, _separator, timestamp = value.partition(":")
    if not constant_time_compare(mark, _session_mark(request)):
        return None  # another session's (a new login starts the clock afresh)
    try:
        return float(timestamp)
    except ValueError:
        return None


class IdleSessionMiddleware:
    """Ends a staff session after ``SESSION_IDLE_TIMEOUT`` without activity; background
    polls (``X-Townhall-Background: 1``) do not count as activity."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        record_activity = False
        now = clock.now().timestamp()
        if request.user.is_authenticated:
            last_activity = _last_activity(request)
            idle_seconds = settings.SESSION_IDLE_TIMEOUT.total_seconds()
            if last_activity is not None and now - last_activity > idle_seconds:
                # Tells the audit log's logout record why the session ended.
                request.townhall_session_expired = True  # type: ignore[attr-defined]
                logout(request)
                messages.info(
                    request,
                    _(
                        "You were logged out after %(minutes)d minutes without activity. "
                        "Please log in again."
                    )
                    % {"minutes": round(idle_seconds / 60)},
                )
            else:
                record_activity = (
                    last_activity is None or request.headers.get(BACKGROUND_HEADER) != "1"
                )
        response = self.get_response(request)
        if request.user.is_authenticated and (record_activity or _last_activity(request) is None):
            response.set_signed_cookie(
                ACTIVITY_COOKIE,
                f"{_session_mark(request)}:{now}",
                salt=ACTIVITY_SALT,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        elif not request.user.is_authenticated and ACTIVITY_COOKIE in request.COOKIES:
            response.delete_cookie(ACTIVITY_COOKIE, samesite="Lax")
        return response


class TwoFactorMiddleware:
    """Sends a signed-in user who has not entered their code to the second step: to enter
    it when they have an authenticator, to set one up when their role requires it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: Any
    ) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated or user.is_verified():  # type: ignore[union-attr,attr-defined]
            return None
        if request.session.get(NO_SECOND_FACTOR_KEY):
            return None
        match = request.resolver_match
        if match is not None and (
            match.view_name in OPEN_URL_NAMES or match.namespace in PUBLIC_NAMESPACES
        ):
            return None
        if has_two_factor_device(user):
            step = "staff:two_factor_verify"
        elif requires_two_factor(user):
            step = "staff:two_factor_setup"
        else:
            # Decided for this login: a role made stricter applies from the next login on.
            request.session[NO_SECOND_FACTOR_KEY] = True
            return None
        htmx = getattr(request, "htmx", None)
        current = (htmx.current_url_abs_path if htmx else None) or request.get_full_path()
        url = f"{reverse(step)}?{urlencode({'next': current})}"
        if htmx:
            return HttpResponseClientRedirect(url)
        return HttpResponseRedirect(url)


def on_logged_in(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """Decide once per login whether it needs a second factor (so pages cost no extra
    queries); connected in ``StaffConfig.ready``."""
    session = getattr(request, "session", None)
    if session is None:
        return
    if not has_two_factor_device(user) and not requires_two_factor(user):
        session[NO_SECOND_FACTOR_KEY] = True
