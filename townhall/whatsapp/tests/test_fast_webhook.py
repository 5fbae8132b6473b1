"""The webhook through the real WSGI application (``townhall.wsgi``), as granian serves it:
webhook POSTs take the shortcut past Django's middleware, everything else is Django's."""

import hashlib
import io
import logging
import sys
import threading
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection

from townhall.core.processes import free_port
from townhall.whatsapp.models import Message, WebhookEvent
from townhall.whatsapp.signatures import sign
from townhall.whatsapp.tests.payloads import fixture_bytes
from townhall.whatsapp.types import webhook_envelope
from townhall.wsgi import application

APP_SECRET = "simulator-app-secret"
URL = "/webhooks/whatsapp/"
# The fixtures were written on 18 June 2025; delivered minutes later (see test_webhook.py).
FIXTURES_DELIVERED_AT = datetime(2025, 6, 18, 10, 25, tzinfo=UTC)
SENDER = "4915112345678"


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], content: bytes) -> None:
        self.status_code = int(status.split(" ", 1)[0])
        self.headers = {name.lower(): value for name, value in headers}
        self.content = content


class CountingInput(io.BytesIO):
    """wsgi.input that remembers how much the application read."""


def call(
    body: bytes = b"",
    *,
    method: str = "POST",
    path: str = URL,
    query: str = "",
    signature: str | None = "auto",
    host: str = "localhost",
) -> tuple[Answer, CountingInput]:
    stream = CountingInput(body)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": stream,
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if signature == "auto":
        environ["HTTP_X_HUB_SIGNATURE_256"] = sign(body, APP_SECRET)
    elif signature is not None:
        environ["HTTP_X_HUB_SIGNATURE_256"] = signature
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started.update(status=status, headers=headers)

    chunks = application(environ, start_response)
    try:
        content = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return Answer(started["status"], started["headers"], content), stream


@pytest.fixture(autouse=True)
def keep_the_test_transaction() -> Any:
    """As Django's test client does: requests served by Django must not close the test's
    connection (and with it the transaction each test runs in)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def at_delivery_time(time_machine: Any) -> None:
    time_machine.move_to(FIXTURES_DELIVERED_AT)


@pytest.mark.django_db
def test_signed_message_is_stored_once_answered_200_and_processed(
    at_delivery_time, django_capture_on_commit_callbacks, fake_cloud_api
):
    body = fixture_bytes("message_text")

    with django_capture_on_commit_callbacks(execute=True):
        answer, _ = call(body)

    assert answer.status_code == 200
    assert answer.content == b"OK"
    # Served by the shortcut: none of the middleware's headers, no session cookie.
    assert "x-frame-options" not in answer.headers
    assert "set-cookie" not in answer.headers
    event = WebhookEvent.objects.get()
    assert event.body == body.decode()
    assert event.state == WebhookEvent.State.PROCESSED
    assert Message.objects.get(direction=Message.Direction.INBOUND).wa_id == SENDER


@pytest.mark.django_db
def test_same_body_again_is_200_without_a_second_row(django_capture_on_commit_callbacks):
    body = fixture_bytes("status_delivered")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first, _ = call(body)
        second, _ = call(body)

    assert (first.status_code, second.status_code) == (200, 200)
    assert WebhookEvent.objects.count() == 1
    # Processing is started for the stored body only, not for the re-delivery.
    assert len(callbacks) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "signature",
    [
        "sha256=" + "0" * 64,
        sign(fixture_bytes("message_text"), "not-the-app-secret"),
        "md5=abc",
    ],
)
def test_bad_signature_is_403_stores_nothing_and_logs_no_personal_data(signature, caplog):
    caplog.set_level(logging.DEBUG)

    answer, _ = call(fixture_bytes("message_text"), signature=signature)

    assert answer.status_code == 403
    assert WebhookEvent.objects.count() == 0
    assert "webhook.rejected reason=bad_signature" in caplog.text
    assert SENDER not in caplog.text
    assert "Bürgerbüro" not in caplog.text


@pytest.mark.django_db
def test_missing_signature_is_401_and_stores_nothing(caplog):
    caplog.set_level(logging.WARNING)

    answer, _ = call(fixture_bytes("message_text"), signature=None)

    assert answer.status_code == 401
    assert WebhookEvent.objects.count() == 0
    assert "reason=missing_signature" in caplog.text


@pytest.mark.django_db
def test_oversized_body_is_read_to_the_end_then_413(settings, caplog):
    caplog.set_level(logging.WARNING)
    settings.WHATSAPP = {**settings.WHATSAPP, "WEBHOOK_MAX_BODY_BYTES": 100_000}
    body = b'{"object":"whatsapp_business_account","entry":[],"pad":"' + b"x" * 300_000 + b'"}'

    answer, stream = call(body)

    assert answer.status_code == 413
    assert stream.tell() == len(body)
    assert WebhookEvent.objects.count() == 0
    assert f"reason=too_large bytes={len(body)}" in caplog.text


@pytest.mark.django_db
def test_signed_malformed_json_is_kept_as_rejected_and_answered_400(caplog):
    caplog.set_level(logging.WARNING)
    body = b'{"object": "whatsapp_business_account", "entry": [ {'

    answer, _ = call(body)

    assert answer.status_code == 400
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.REJECTED
    assert event.body == body.decode()
    assert "reason=invalid_json" in caplog.text


@pytest.mark.django_db
def test_signed_body_with_nul_bytes_is_kept_readably_as_rejected():
    body = b'{"object": "whatsapp_business_account"\x00\xff}'

    answer, _ = call(body)

    assert answer.status_code == 400
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.REJECTED
    assert event.body == '{"object": "whatsapp_business_account"\ufffd\ufffd}'


@pytest.mark.django_db(transaction=True)
def test_database_unavailable_is_503_so_meta_retries_and_later_bodies_are_stored(
    monkeypatch, caplog
):
    caplog.set_level(logging.WARNING)
    body = fixture_bytes("status_delivered")
    connection.close()
    if connection.vendor == "sqlite":
        monkeypatch.setitem(connection.settings_dict, "NAME", "/nonexistent-directory/db.sqlite3")
    else:
        monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
        monkeypatch.setitem(connection.settings_dict, "PORT", str(free_port()))

    answer, _ = call(body)

    assert answer.status_code == 503
    assert "webhook.not_stored reason=database_error" in caplog.text
    monkeypatch.undo()
    # Meta delivers it again once we are back; the shortcut reconnects by itself.
    retried, _ = call(body)
    assert retried.status_code == 200
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
def test_verification_handshake_and_other_pages_are_served_by_django():
    handshake, _ = call(
        method="GET",
        query="hub.mode=subscribe&hub.verify_token=simulator-verify-token&hub.challenge=77",
    )
    login, _ = call(method="GET", path="/login/")

    assert handshake.status_code == 200
    assert handshake.content == b"77"
    assert login.status_code in (200, 302)
    assert "x-frame-options" in login.headers


@pytest.mark.django_db
def test_webhook_post_to_a_host_django_refuses_gets_django_s_400():
    answer, _ = call(fixture_bytes("status_delivered"), host="evil.example")

    assert answer.status_code == 400
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_webhook_post_with_a_query_string_goes_through_django_with_the_same_answer():
    body = orjson.dumps(orjson.loads(fixture_bytes("status_delivered")))

    answer, _ = call(body, query="source=meta")

    assert answer.status_code == 200
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
def test_a_signed_body_just_over_4_mb_with_a_query_string_is_read_then_413(caplog):
    # given: the default limit; a query string sends the POST through Django's view
    caplog.set_level(logging.WARNING)
    body = b'{"object":"whatsapp_business_account","entry":[],"pad":"'
    body += b"x" * (4 * 1024 * 1024 - len(body)) + b'"}'

    answer, stream = call(body, query="debug=1")

    assert answer.status_code == 413
    # Read to the end, so a client that writes the whole body first sees the 413, not a reset.
    assert stream.tell() == len(body)
    assert WebhookEvent.objects.count() == 0


PRODUCTION_WHATSAPP = {
    "API_BASE_URL": "https://graph.facebook.com",
    # Left at the simulator's public defaults, as an install that forgot to set them.
    "APP_SECRET": APP_SECRET,
    "ACCESS_TOKEN": "simulator-access-token",
    "VERIFY_TOKEN": "simulator-verify-token",
}


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["", "via=django"])
def test_a_webhook_signed_with_the_simulator_secret_is_refused_in_production(settings, query):
    # given
    settings.WHATSAPP = {**settings.WHATSAPP, **PRODUCTION_WHATSAPP}
    # when: a fake STOP from anyone who read the repository
    answer, _ = call(fixture_bytes("message_text"), query=query)
    # then
    assert answer.status_code == 403
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_the_simulator_verify_token_verifies_nothing_in_production(settings):
    settings.WHATSAPP = {**settings.WHATSAPP, **PRODUCTION_WHATSAPP}

    answer, _ = call(
        method="GET",
        query="hub.mode=subscribe&hub.verify_token=simulator-verify-token&hub.challenge=42",
        signature=None,
    )

    assert answer.status_code == 403
    assert answer.content != b"42"


@pytest.mark.django_db
def test_a_real_app_secret_is_accepted_in_production(settings):
    settings.WHATSAPP = {**settings.WHATSAPP, **PRODUCTION_WHATSAPP, "APP_SECRET": "meta-secret"}
    body = fixture_bytes("message_text")

    answer, _ = call(body, signature=sign(body, "meta-secret"))

    assert answer.status_code == 200
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_webhooks_arriving_together_are_each_stored_once_before_their_200():
    # Request threads that arrive at the same moment share one INSERT and one commit (group
    # commit); each answer still waits for its own body, and a duplicate stays one row.
    bodies = [
        orjson.dumps(
            webhook_envelope(
                {
                    "messaging_product": "whatsapp",
                    "metadata": {"phone_number_id": "100000000000001"},
                    "statuses": [
                        {
                            "id": f"wamid.group-{index}",
                            "status": "delivered",
                            "timestamp": "1750242300",
                            "recipient_id": SENDER,
                        }
                    ],
                }
            )
        )
        for index in range(20)
    ]
    arrivals = bodies + bodies[:4]  # Meta delivers some twice, at the same moment
    start = threading.Barrier(len(arrivals))
    answers: list[int] = []

    def deliver(body: bytes) -> None:
        start.wait()
        try:
            answers.append(call(body)[0].status_code)
            # what the webhook answered 200 for is committed: visible to another connection
            assert WebhookEvent.objects.filter(body_sha256=hashlib.sha256(body).hexdigest())
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(body,)) for body in arrivals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert answers == [200] * len(arrivals)
    assert WebhookEvent.objects.count() == 20
