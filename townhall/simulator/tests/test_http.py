"""The real simulator process over loopback HTTP, with a local receiver standing in for
Townhall's webhook endpoint (it records bodies and verifies every signature)."""

import base64

import pytest

from townhall.simulator.testing import (
    SimulatorProcess,
    WebhookReceiver,
    wait_for,
    wait_for_items,
)

pytestmark = pytest.mark.e2e

ANNA = "4915112345601"


def open_window(simulator: SimulatorProcess, wa_id: str = ANNA) -> str:
    result = simulator.control(
        "POST", f"/_sim/citizens/{wa_id}/send", {"type": "text", "text": "Hallo", "name": "Anna"}
    )
    message_id = result["message_id"]
    assert isinstance(message_id, str)
    return message_id


def test_send_returns_a_wamid_then_signed_statuses_arrive_in_order(
    running_simulator: SimulatorProcess, webhook_receiver: WebhookReceiver
) -> None:
    # given
    open_window(running_simulator)
    # when
    response = running_simulator.send(
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": ANNA,
            "type": "text",
            "text": {"body": "Wir kümmern uns darum."},
            "biz_opaque_callback_data": "delivery-7",
        }
    )
    # then
    assert response.status_code == 200
    wamid = response.json()["messages"][0]["id"]
    assert response.json()["contacts"] == [{"input": ANNA, "wa_id": ANNA}]
    statuses = wait_for_items(lambda: webhook_receiver.statuses_for(wamid), 3)
    assert statuses == ["sent", "delivered", "read"]
    carrying = [w for w in webhook_receiver.accepted() if w.statuses()]
    assert all(webhook.is_signature_valid for webhook in carrying)
    assert {s["biz_opaque_callback_data"] for w in carrying for s in w.statuses()} == {"delivery-7"}
    thread = running_simulator.control("GET", f"/_sim/citizens/{ANNA}/messages")
    outbound = thread["messages"][1]
    assert (outbound["id"], outbound["status"]) == (wamid, "read")
    assert [event["status"] for event in outbound["statuses"]] == [
        "accepted",
        "sent",
        "delivered",
        "read",
    ]


def test_citizen_text_arrives_as_a_signed_meta_webhook(
    running_simulator: SimulatorProcess, webhook_receiver: WebhookReceiver
) -> None:
    # when
    wamid = running_simulator.control(
        "POST",
        f"/_sim/citizens/{ANNA}/send",
        {"type": "text", "text": "Die Laterne ist kaputt", "name": "Anna Schmidt"},
    )["message_id"]
    # then
    (webhook,) = wait_for(lambda: webhook_receiver.webhooks_for_message(wamid))
    assert webhook.is_signature_valid
    payload = webhook.payload
    assert payload["object"] == "whatsapp_business_account"
    entry = payload["entry"][0]
    assert entry["id"] == "200000000000001"
    assert entry["changes"][0]["field"] == "messages"
    value = entry["changes"][0]["value"]
    assert value["messaging_product"] == "whatsapp"
    assert value["metadata"] == {
        "display_phone_number": "4929321000000",
        "phone_number_id": "100000000000001",
    }
    assert value["contacts"] == [{"profile": {"name": "Anna Schmidt"}, "wa_id": ANNA}]
    message = value["messages"][0]
    assert set(message) == {"from", "id", "timestamp", "type", "text"}
    assert (message["from"], message["id"], message["type"], message["text"]) == (
        ANNA,
        wamid,
        "text",
        {"body": "Die Laterne ist kaputt"},
    )
    assert message["timestamp"].isdigit()


def test_a_failing_receiver_gets_retries_of_the_same_body(
    running_simulator: SimulatorProcess, webhook_receiver: WebhookReceiver
) -> None:
    # given
    webhook_receiver.fail_next(2, status=500)
    # when
    wamid = open_window(running_simulator)
    # then
    attempts = wait_for_items(lambda: webhook_receiver.webhooks_for_message(wamid), 3)
    assert [attempt.answered_status for attempt in attempts] == [500, 500, 200]
    assert len({attempt.body for attempt in attempts}) == 1
    assert all(attempt.is_signature_valid for attempt in attempts)
    # Exponential backoff: the second wait is about twice the first (base 0.05 s).
    first_gap = attempts[1].received_at - attempts[0].received_at
    second_gap = attempts[2].received_at - attempts[1].received_at
    assert first_gap >= 0.04
    assert second_gap >= 0.09
    stats = running_simulator.control("GET", "/_sim/stats")["webhooks"]
    assert (stats["failed_attempts"], stats["retried"], stats["delivered"]) == (2, 2, 1)


def test_missing_bearer_token_is_http_401_with_code_190(
    running_simulator: SimulatorProcess,
) -> None:
    response = running_simulator.send(
        {"messaging_product": "whatsapp", "to": ANNA, "type": "text", "text": {"body": "Hi"}},
        access_token=None,
    )
    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["code"], error["type"]) == (190, "OAuthException")
    assert running_simulator.control("GET", "/_sim/citizens") == {"citizens": []}


def test_pair_limit_over_http_is_400_with_131056(running_simulator: SimulatorProcess) -> None:
    running_simulator.control("POST", "/_sim/config", {"pair_limit_burst": 2})
    open_window(running_simulator)
    payload = {"messaging_product": "whatsapp", "to": ANNA, "text": {"body": "Hi"}}
    codes = [running_simulator.send(payload).status_code for _ in range(3)]
    refused = running_simulator.send(payload).json()["error"]
    assert codes == [200, 200, 400]
    assert (refused["code"], refused["error_data"]["messaging_product"]) == (131056, "whatsapp")


def test_redeliver_repeats_the_identical_signed_body(
    running_simulator: SimulatorProcess, webhook_receiver: WebhookReceiver
) -> None:
    # given
    wamid = open_window(running_simulator)
    wait_for(lambda: webhook_receiver.webhooks_for_message(wamid))
    # when
    queued = running_simulator.control(
        "POST", "/_sim/webhooks/redeliver", {"message_id": wamid, "times": 4}
    )
    # then
    assert queued == {"queued": 4}
    deliveries = wait_for_items(lambda: webhook_receiver.webhooks_for_message(wamid), 5)
    assert len({(delivery.body, delivery.signature) for delivery in deliveries}) == 1


def test_citizen_image_can_be_fetched_through_the_media_api(
    running_simulator: SimulatorProcess, webhook_receiver: WebhookReceiver
) -> None:
    # given
    data = b"\x89PNG\r\n\x1a\n simulated"
    wamid = running_simulator.control(
        "POST",
        f"/_sim/citizens/{ANNA}/send",
        {"type": "image", "data_base64": base64.b64encode(data).decode(), "mime_type": "image/png"},
    )["message_id"]
    (webhook,) = wait_for(lambda: webhook_receiver.webhooks_for_message(wamid))
    media_id = webhook.messages()[0]["image"]["id"]
    headers = {"Authorization": "Bearer simulator-access-token"}
    # when
    info = running_simulator.client.get(f"/v21.0/{media_id}", headers=headers).json()
    download = running_simulator.client.get(info["url"], headers=headers)
    unauthenticated = running_simulator.client.get(info["url"])
    # then
    assert info["url"] == f"{running_simulator.base_url}/_media/{media_id}"
    assert (info["mime_type"], info["file_size"]) == ("image/png", len(data))
    assert (download.status_code, download.content) == (200, data)
    assert unauthenticated.status_code == 401


def test_flush_waits_for_pending_webhooks_and_stats_count_them(
    running_simulator: SimulatorProcess,
) -> None:
    open_window(running_simulator)
    running_simulator.send({"messaging_product": "whatsapp", "to": ANNA, "text": {"body": "Danke"}})
    assert running_simulator.control("POST", "/_sim/flush", {"timeout": 10}) == {"drained": True}
    stats = running_simulator.control("GET", "/_sim/stats")
    assert stats["webhooks"]["pending"] == 0
    assert stats["webhooks"]["delivered"] == 4
    assert stats["statuses"] == {"sent": 1, "delivered": 1, "read": 1}
    assert stats["sends"]["accepted"] == 1


def test_process_announces_itself_and_stops_cleanly_on_sigterm(
    webhook_receiver: WebhookReceiver,
) -> None:
    process = SimulatorProcess(webhook_url=webhook_receiver.url, threads=2).start()
    exit_code = process.stop(timeout=10)
    assert exit_code == 0
    assert (
        f"Simulator on {process.base_url} → webhooks to {webhook_receiver.url}"
        in process.output_lines
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"messaging_product": "whatsapp", "to": ANNA, "type": "text", "text": {"body": "Hi"}},
        {"messaging_product": "whatsapp", "to": ANNA, "type": "text", "text": {}},
        {"messaging_product": "nope"},
    ],
)
@pytest.mark.parametrize("token", ["simulator-access-token", "wrong"])
def test_the_send_shortcut_answers_like_the_django_view(
    running_simulator: SimulatorProcess, payload: dict[str, object], token: str
) -> None:
    # given: the token in the header takes the shortcut, as a query parameter Django's view
    path = "/v21.0/100000000000001/messages"
    running_simulator.control("POST", "/_sim/config", {"window_error_mode": "sync"})
    # when
    shortcut = running_simulator.client.post(
        path, json=payload, headers={"Authorization": f"Bearer {token}"}
    )
    django = running_simulator.client.post(path, json=payload, params={"access_token": token})
    # then
    assert shortcut.status_code == django.status_code
    assert shortcut.status_code in (400, 401)
    shortcut_error, django_error = shortcut.json()["error"], django.json()["error"]
    # fbtrace_id is random per response, as at Meta.
    assert shortcut_error.pop("fbtrace_id") != django_error.pop("fbtrace_id")
    assert shortcut_error == django_error
    assert shortcut.headers["Content-Type"] == django.headers["Content-Type"]
    assert shortcut.headers.get("WWW-Authenticate") == django.headers.get("WWW-Authenticate")


# --- the control API of a running demo, seen from a web page in the same browser ----------------


def test_control_api_refuses_a_cross_origin_text_plain_post(
    running_simulator: SimulatorProcess,
) -> None:
    # given: what a foreign page's fetch(..., {mode: "no-cors", body: "…"}) sends
    open_window(running_simulator)
    before = running_simulator.control("GET", f"/_sim/citizens/{ANNA}/messages")["messages"]
    # when
    response = running_simulator.client.post(
        f"/_sim/citizens/{ANNA}/send",
        content=b'{"type": "text", "text": "STOP"}',
        headers={"Content-Type": "text/plain", "Origin": "http://evil.example"},
    )
    # then
    assert response.status_code == 403
    after = running_simulator.control("GET", f"/_sim/citizens/{ANNA}/messages")["messages"]
    assert after == before


def test_control_api_refuses_text_plain_bodies_even_without_origin(
    running_simulator: SimulatorProcess,
) -> None:
    open_window(running_simulator)

    response = running_simulator.client.post(
        f"/_sim/citizens/{ANNA}/send",
        content=b'{"type": "text", "text": "STOP"}',
        headers={"Content-Type": "text/plain"},
    )

    assert response.status_code == 415
    thread = running_simulator.control("GET", f"/_sim/citizens/{ANNA}/messages")["messages"]
    assert [message["text"] for message in thread] == ["Hallo"]


def test_same_origin_json_control_calls_still_work(running_simulator: SimulatorProcess) -> None:
    origin = str(running_simulator.client.base_url).rstrip("/")

    response = running_simulator.client.post(
        f"/_sim/citizens/{ANNA}/send",
        json={"type": "text", "text": "Hallo", "name": "Anna"},
        headers={"Origin": origin},
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    "path", ["/_sim/stats", "/", f"/phone/{ANNA}/", "/v21.0/100000000000001/messages"]
)
def test_a_foreign_host_header_is_refused_on_every_path(
    running_simulator: SimulatorProcess, path: str
) -> None:
    # given: DNS rebinding, a foreign name that now resolves to 127.0.0.1
    open_window(running_simulator)
    headers = {"Host": "rebind.evil.example:8001", "Authorization": "Bearer simulator-access-token"}
    # when
    if path.startswith("/v21.0"):
        response = running_simulator.client.post(
            path,
            json={
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": ANNA,
                "type": "text",
                "text": {"body": "Hallo"},
            },
            headers=headers,
        )
    else:
        response = running_simulator.client.get(path, headers=headers)
    # then
    assert response.status_code == 400
