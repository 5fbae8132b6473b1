"""Middleware of the simulator process."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase


class AllowedHostsMiddleware:
    """Refuse requests whose Host is not in ALLOWED_HOSTS (400), for every path.

    Django checks the Host only when something asks for it (CommonMiddleware in Townhall);
    the simulator has no such middleware, so a page of a foreign site whose name resolves to
    127.0.0.1 (DNS rebinding) could otherwise drive the control API of a running demo.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request.get_host()  # raises DisallowedHost, which Django answers with 400
        return self.get_response(request)
