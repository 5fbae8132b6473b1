"""``POST /{version}/{phone_number_id}/messages``, the hot path of the simulator.

``answer_send`` is the endpoint's one implementation: the Django view calls it, and so does
``SendShortcut``, a WSGI wrapper in front of the Django application that answers well-formed
send requests directly, without middleware and URL resolving (about half of the CPU of a
send). Anything unusual (a query string, no Content-Length, an oversized body, another path
or method) goes to Django unchanged, so both paths answer identically.
"""

import re
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import orjson
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest

from townhall.simulator.engine import get_simulator
from townhall.simulator.errors import GraphError

# Only what the Django route surely sends to ``graph_messages``.
SEND_PATH_RE = re.compile(r"/(v\d+\.\d+)/(\d+)/messages")
JSON_CONTENT_TYPE = "application/json"
OAUTH_CHALLENGE = 'OAuth "Facebook Platform" "invalid_token"'

StartResponse = Callable[..., Any]
WSGIApplication = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    scheme, _separator, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def graph_error_answer(error: GraphError) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = [("Content-Type", JSON_CONTENT_TYPE)]
    if error.http_status == 401:
        headers.append(("WWW-Authenticate", OAUTH_CHALLENGE))
    return error.http_status, orjson.dumps(error.to_body()), headers


def answer_send(
    *, version: str, phone_number_id: str, access_token: str | None, body: bytes
) -> tuple[int, bytes, list[tuple[str, str]]]:
    """Status, body and headers of Meta's answer to a send (or mark-as-read) request."""
    try:
        payload: object = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    try:
        result = get_simulator().send(
            version=version,
            phone_number_id=phone_number_id,
            access_token=access_token,
            payload=payload,
        )
    except GraphError as error:
        return graph_error_answer(error)
    return 200, orjson.dumps(result), [("Content-Type", JSON_CONTENT_TYPE)]


class SendShortcut:
    """WSGI: well-formed send requests straight to ``answer_send``, the rest to Django."""

    def __init__(self, django_application: WSGIApplication, *, max_body_bytes: int) -> None:
        self._django_application = django_application
        self._max_body_bytes = max_body_bytes

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        match = None
        if environ.get("REQUEST_METHOD") == "POST" and not environ.get("QUERY_STRING"):
            match = SEND_PATH_RE.fullmatch(environ.get("PATH_INFO", ""))
        length = environ.get("CONTENT_LENGTH") or ""
        if (
            match is None
            or not length.isdigit()
            or int(length) > self._max_body_bytes
            or not _is_allowed_host(environ)
        ):
            # Django answers, or refuses a foreign Host (AllowedHostsMiddleware).
            return self._django_application(environ, start_response)
        status, content, headers = answer_send(
            version=match[1],
            phone_number_id=match[2],
            access_token=bearer_token(environ.get("HTTP_AUTHORIZATION", "")),
            body=environ["wsgi.input"].read(int(length)),
        )
        headers.append(("Content-Length", str(len(content))))
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [content]


def _is_allowed_host(environ: dict[str, Any]) -> bool:
    try:
        WSGIRequest(environ).get_host()
    except DisallowedHost:
        return False
    return True
