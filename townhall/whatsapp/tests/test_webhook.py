"""The webhook endpoint: signature check, durable intake, deduplication, parsing into rows."""

import logging
from datetime import UTC, datetime

import orjson
import pytest
from django.urls import reverse

from townhall.citizens.models import Citizen
from townhall.whatsapp.errors import OutsideServiceWindow
from townhall.whatsapp.models import Message, MessageStatusEvent, WebhookEvent
from townhall.whatsapp.signatures import sign
from townhall.whatsapp.tests.payloads import fixture_bytes, fixture_names, load_fixture

APP_SECRET = "simulator-app-secret"
URL = "/webhooks/whatsapp/"


def post_webhook(client, body: bytes, *, signature: str | None = "auto"):
    headers = {}
    if signature == "auto":
        headers["HTTP_X_HUB_SIGNATURE_256"] = sign(body, APP_SECRET)
    elif signature is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    return client.post(URL, data=body, content_type="application/json", **headers)


# The fixtures were written on 18 June 2025 between 09:15 and 10:21 UTC; Meta delivers them
# minutes later, so the bot's answers are inside the 24-hour window and really sent.
FIXTURES_DELIVERED_AT = datetime(2025, 6, 18, 10, 25, tzinfo=UTC)


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks, fake_cloud_api, time_machine):
    """POST a signed body and run the resulting tasks, as the worker would, at the time the
    fixtures were written; the Cloud API is faked, its requests are in ``fake_cloud_api``."""
    time_machine.move_to(FIXTURES_DELIVERED_AT)

    def deliver(body: bytes, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post_webhook(client, body, **kwargs)

    return deliver


def test_url_is_stable():
    assert reverse("whatsapp:webhook") == URL


@pytest.mark.django_db
def test_verification_handshake_echoes_challenge(client):
    response = client.get(
        URL,
        {
            "hub.mode": "subscribe",
            "hub.verify_token": "simulator-verify-token",
            "hub.challenge": "1158201444",
        },
    )

    assert response.status_code == 200
    assert response.content == b"1158201444"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {
            "hub.mode": "unsubscribe",
            "hub.verify_token": "simulator-verify-token",
            "hub.challenge": "1",
        },
        {"hub.mode": "subscribe", "hub.challenge": "1"},
    ],
)
def test_verification_refused_with_wrong_token_or_mode(client, params):
    response = client.get(URL, params)

    assert response.status_code == 403


@pytest.mark.django_db
def test_missing_signature_is_401_and_stores_nothing(client, caplog):
    caplog.set_level(logging.WARNING)

    response = post_webhook(client, fixture_bytes("message_text"), signature=None)

    assert response.status_code == 401
    assert WebhookEvent.objects.count() == 0
    assert Message.objects.count() == 0
    assert "reason=missing_signature" in caplog.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "signature",
    [
        "sha256=" + "0" * 64,
        sign(b"another body", APP_SECRET),
        sign(fixture_bytes("message_text"), "not-the-app-secret"),
        "md5=abc",
        "sha256=",
    ],
)
def test_forged_signature_is_403_and_stores_nothing(client, signature, caplog):
    caplog.set_level(logging.WARNING)

    response = post_webhook(client, fixture_bytes("message_text"), signature=signature)

    assert response.status_code == 403
    assert WebhookEvent.objects.count() == 0
    assert Message.objects.count() == 0
    assert "reason=bad_signature" in caplog.text


@pytest.mark.django_db
def test_logs_never_contain_number_or_text(deliver, fake_cloud_api, caplog):
    caplog.set_level(logging.DEBUG)

    deliver(fixture_bytes("message_text"))

    # the message, and the bot's answer sent to the same number
    assert Message.objects.filter(direction=Message.Direction.INBOUND).count() == 1
    assert len(fake_cloud_api.sent_bodies) == 1
    assert Message.objects.get(direction=Message.Direction.OUTBOUND).provider_id
    assert "4915112345678" not in caplog.text
    assert "Bürgerbüro" not in caplog.text
    assert "Anna" not in caplog.text


@pytest.mark.django_db
def test_text_message_is_stored_once_with_sender_and_citizen(deliver, fake_cloud_api):
    response = deliver(fixture_bytes("message_text"))

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.PROCESSED
    message = Message.objects.get(direction=Message.Direction.INBOUND)
    assert message.direction == Message.Direction.INBOUND
    assert message.provider_id == "wamid.GA00OTE1MTEyMzQ1Njc4FQIAEhgQVEVYVDAwMDAwMDAwMDAwMAA="
    assert message.wa_id == "4915112345678"
    assert message.profile_name == "Anna Schmidt"
    assert message.type == "text"
    assert message.text.startswith("Guten Tag, wann hat das Bürgerbüro")
    assert message.status == Message.Status.RECEIVED
    assert int(message.created_at.timestamp()) == 1750238100
    assert message.handled_at is not None
    citizen = Citizen.objects.get()
    assert citizen.wa_id == "4915112345678"
    assert citizen.profile_name == "Anna Schmidt"
    # and the bot answered the stranger with the short help, sent through the Cloud API
    [reply] = fake_cloud_api.sent_bodies
    assert reply["to"] == "4915112345678"
    assert "WhatsApp-Service der Stadt Musterstadt" in reply["interactive"]["body"]["text"]
    answer = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert answer.status == Message.Status.ACCEPTED
    assert answer.provider_id == "wamid.fake-1"


@pytest.mark.django_db
def test_same_webhook_delivered_ten_times_gives_one_row(deliver, fake_cloud_api):
    body = fixture_bytes("message_text")

    responses = [deliver(body) for _ in range(10)]

    assert [r.status_code for r in responses] == [200] * 10
    assert WebhookEvent.objects.count() == 1
    assert Message.objects.filter(direction=Message.Direction.INBOUND).count() == 1
    assert Citizen.objects.count() == 1
    # handled once: one answer, not ten
    assert len(fake_cloud_api.sent_bodies) == 1


@pytest.mark.django_db
def test_same_message_in_a_differently_batched_body_is_stored_once(deliver, fake_cloud_api):
    payload = load_fixture("message_text")
    deliver(orjson.dumps(payload))
    # Meta may re-deliver a message inside another envelope (other batch, other order).
    payload["entry"][0]["changes"][0]["value"]["messages"].append(
        {
            "from": "4915112345678",
            "id": "wamid.second-message",
            "timestamp": "1750238200",
            "type": "text",
            "text": {"body": "Und am Sonntag?"},
        }
    )

    deliver(orjson.dumps(payload))

    assert WebhookEvent.objects.count() == 2
    inbound = Message.objects.filter(direction=Message.Direction.INBOUND)
    assert sorted(inbound.values_list("text", flat=True)) == [
        "Guten Tag, wann hat das Bürgerbüro in Musterstadt am Samstag geöffnet?",
        "Und am Sonntag?",
    ]
    # one answer per message, none for the re-delivered one
    assert len(fake_cloud_api.sent_bodies) == 2


MESSAGE_FIXTURES = [name for name in fixture_names() if name.startswith("message_")]
SILENT_TYPES = {"order", "reaction", "system", "unknown", "unsupported"}


@pytest.mark.django_db
@pytest.mark.parametrize("name", MESSAGE_FIXTURES)
def test_every_message_type_is_stored(deliver, name, fake_cloud_api):
    payload = load_fixture(name)
    raw = payload["entry"][0]["changes"][0]["value"]["messages"][0]

    deliver(fixture_bytes(name))

    message = Message.objects.get(provider_id=raw["id"])
    assert message.type == raw["type"]
    assert message.handled_at is not None
    if raw.get("system", {}).get("type") == "customer_changed_number":
        # the notice moves to the new number; no row keeps the old one, the raw body neither
        assert message.wa_id == raw["system"]["new_wa_id"]
        assert not WebhookEvent.objects.exists()
    else:
        assert message.wa_id == raw["from"]
        assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
    # the bot answers a stranger once; reactions, system notices and the like get no answer
    if raw["type"] in SILENT_TYPES:
        assert fake_cloud_api.sent_bodies == []
    else:
        assert [(body["to"], body["type"]) for body in fake_cloud_api.sent_bodies] == [
            (raw["from"], "interactive")
        ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "expected_type", "expected_text"),
    [
        ("message_interactive_button_reply", "interactive", None),
        ("message_interactive_list_reply", "interactive", None),
        ("message_button_template_quick_reply", "button", None),
        ("message_reaction", "reaction", None),
        ("message_image", "image", None),
    ],
)
def test_typed_content_is_kept_in_payload(deliver, name, expected_type, expected_text):
    payload = load_fixture(name)
    raw = payload["entry"][0]["changes"][0]["value"]["messages"][0]

    deliver(fixture_bytes(name))

    message = Message.objects.get(provider_id=raw["id"])
    assert message.type == expected_type
    assert message.payload[expected_type] == raw[expected_type]


@pytest.mark.django_db
def test_batch_with_several_entries_stores_all(deliver):
    payload = load_fixture("batch_multiple_entries")
    expected_messages = sum(
        len(change["value"].get("messages", []))
        for entry in payload["entry"]
        for change in entry["changes"]
    )
    expected_statuses = sum(
        len(change["value"].get("statuses", []))
        for entry in payload["entry"]
        for change in entry["changes"]
    )

    deliver(fixture_bytes("batch_multiple_entries"))

    assert Message.objects.filter(direction=Message.Direction.INBOUND).count() == expected_messages
    assert MessageStatusEvent.objects.count() == expected_statuses


def outbound_message(provider_id: str) -> Message:
    return Message.objects.create(
        provider_id=provider_id,
        direction=Message.Direction.OUTBOUND,
        wa_id="4916098765432",
        type="text",
        text="Ihre Anfrage ist angekommen.",
        status=Message.Status.ACCEPTED,
    )


def status_body(name: str, provider_id: str) -> bytes:
    payload = load_fixture(name)
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = provider_id
    return orjson.dumps(payload)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("names", "final_status"),
    [
        (["status_sent"], "sent"),
        (["status_sent", "status_delivered"], "delivered"),
        (["status_sent", "status_delivered", "status_read"], "read"),
        # Order is not guaranteed; a late "delivered" never downgrades "read".
        (["status_read", "status_delivered", "status_sent"], "read"),
        (["status_read"], "read"),
        (["status_sent", "status_delivered", "status_played"], "played"),
    ],
)
def test_statuses_advance_outbound_message(deliver, names, final_status):
    message = outbound_message("wamid.out-1")

    for name in names:
        deliver(status_body(name, "wamid.out-1"))

    message.refresh_from_db()
    assert message.status == final_status
    history = list(
        MessageStatusEvent.objects.filter(provider_message_id="wamid.out-1").values_list(
            "status", flat=True
        )
    )
    assert sorted(history) == sorted(
        load_fixture(n)["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] for n in names
    )


@pytest.mark.django_db
def test_failed_status_records_error_as_typed_class(deliver):
    message = outbound_message("wamid.out-2")

    deliver(status_body("status_sent", "wamid.out-2"))
    deliver(status_body("status_failed", "wamid.out-2"))

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.error_code == 131047
    assert isinstance(message.error, OutsideServiceWindow)
    event = MessageStatusEvent.objects.get(provider_message_id="wamid.out-2", status="failed")
    assert event.errors[0]["code"] == 131047


@pytest.mark.django_db
def test_status_history_keeps_time_recipient_pricing_and_errors(deliver):
    outbound_message("wamid.out-4")

    deliver(status_body("status_delivered", "wamid.out-4"))
    deliver(status_body("status_failed", "wamid.out-4"))

    delivered, failed = (
        MessageStatusEvent.objects.get(provider_message_id="wamid.out-4", status=status)
        for status in ("delivered", "failed")
    )
    assert delivered.occurred_at == datetime.fromtimestamp(1750240805, UTC)
    assert delivered.recipient_wa_id == "4915112345678"
    assert delivered.pricing == {"billable": True, "pricing_model": "CBP", "category": "utility"}
    assert delivered.errors == []
    assert delivered.received_at >= FIXTURES_DELIVERED_AT
    assert failed.occurred_at == datetime.fromtimestamp(1750241100, UTC)
    assert failed.errors[0]["code"] == 131047
    assert failed.errors[0]["title"] == "Re-engagement message"
    assert failed.pricing == {}


@pytest.mark.django_db
def test_duplicate_status_is_stored_once(deliver):
    outbound_message("wamid.out-3")

    for _ in range(10):
        deliver(status_body("status_delivered", "wamid.out-3"))

    assert MessageStatusEvent.objects.filter(provider_message_id="wamid.out-3").count() == 1


@pytest.mark.django_db
def test_status_for_unknown_message_is_kept(deliver):
    deliver(status_body("status_delivered", "wamid.not-ours"))

    assert MessageStatusEvent.objects.filter(provider_message_id="wamid.not-ours").count() == 1
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED


@pytest.mark.django_db
def test_body_over_one_megabyte_is_accepted(deliver):
    payload = load_fixture("message_text")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["text"]["body"] = "Sehr lange Nachricht. " * 70_000
    body = orjson.dumps(payload)
    assert len(body) > 1_500_000

    response = deliver(body)

    assert response.status_code == 200
    stored = Message.objects.get(direction=Message.Direction.INBOUND)
    assert len(stored.text) == len(message["text"]["body"])


@pytest.mark.django_db
def test_body_over_the_limit_is_413_and_stores_nothing(deliver, settings):
    settings.WHATSAPP = {**settings.WHATSAPP, "WEBHOOK_MAX_BODY_BYTES": 2_000_000}
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000_000
    body = b'{"object":"whatsapp_business_account","entry":[],"pad":"' + b"x" * 2_500_000 + b'"}'

    response = deliver(body)

    assert response.status_code == 413
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_signed_invalid_json_is_400_and_kept_for_inspection(deliver, caplog):
    caplog.set_level(logging.WARNING)
    body = b'{"object": "whatsapp_business_account", "entry": [ {'

    response = deliver(body)

    assert response.status_code == 400
    assert b"not valid JSON" in response.content
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.REJECTED
    assert event.body == body.decode()
    assert Message.objects.count() == 0
    assert "reason=invalid_json" in caplog.text


@pytest.mark.django_db
def test_unsigned_invalid_json_is_401(deliver):
    response = deliver(b"{not json", signature=None)

    assert response.status_code == 401
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"object": "page", "entry": []},
        {"object": "whatsapp_business_account"},
        {"object": "whatsapp_business_account", "entry": "nope"},
        "just a string",
    ],
)
def test_malformed_envelope_is_kept_and_never_crashes(deliver, payload, caplog):
    caplog.set_level(logging.WARNING)

    response = deliver(orjson.dumps(payload))

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.REJECTED
    assert event.error
    assert "webhook.rejected" in caplog.text


@pytest.mark.django_db
def test_unknown_parts_are_processed_around(deliver):
    payload = load_fixture("message_text")
    value = payload["entry"][0]["changes"][0]["value"]
    value["messages"].insert(0, {"type": "text", "text": {"body": "kein Absender"}})

    deliver(orjson.dumps(payload))

    assert Message.objects.filter(direction=Message.Direction.INBOUND).count() == 1
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.PROCESSED
    assert "kein Absender" not in event.error
    assert event.error


@pytest.mark.django_db
def test_other_change_fields_are_ignored(deliver):
    response = deliver(fixture_bytes("change_account_update"))

    assert response.status_code == 200
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
    assert Message.objects.count() == 0
