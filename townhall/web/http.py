"""What every staff view shares: the HTMX request type and the login decorator."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.views.decorators.cache import never_cache
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

# Streaming answers (CSV exports) are views too.
View = Callable[..., HttpResponseBase]


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
    def wrapper(request: HtmxHttpRequest, *args, **kwargs) -> HttpResponseBase:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.htmx:
            current_url = request.htmx.current_url_abs_path or request.get_full_path()
            login = redirect_to_login(current_url)
            return HttpResponseClientRedirect(login.url)
        return redirect_to_login(request.get_full_path())

    return wrapper
