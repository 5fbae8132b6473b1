"""Meta's rules as the engine applies them, with an injected clock and a fake dispatcher."""

import base64
import hashlib
import hmac
from typing import Any

import orjson
import pytest

from townhall.simulator.engine import ControlError, Simulator, SimulatorConfig
from townhall.simulator.errors import GraphError
from townhall.simulator.tests.conftest import FakeClock, FakeDispatcher
from townhall.simulator.webhooks import WebhookPayload

TOKEN = "simulator-access-token"
PHONE_NUMBER_ID = "100000000000001"
ANNA = "4915112345601"
BERND = "4915112345602"


def send(simulator: Simulator, payload: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "version": "v21.0",
        "phone_number_id": PHONE_NUMBER_ID,
        "access_token": TOKEN,
        "payload": payload,
    }
    arguments.update(overrides)
    return simulator.send(**arguments)


def text(to: str, body: str = "Guten Tag", **extra: Any) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"body": body},
        **extra,
    }


def buttons(to: str, *reply_buttons: tuple[str, str], body: str = "Zufrieden?") -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "to": to,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": body},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": button_id, "title": title}}
                    for button_id, title in reply_buttons
                ]
            },
        },
    }


def template(name: str, language: str, *parameters: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "to": ANNA,
        "type": "template",
        "template": {
            "name": name,
            "language": {"code": language},
            "components": [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": value} for value in parameters],
                }
            ],
        },
    }


def graph_error(simulator: Simulator, payload: dict[str, Any], **overrides: Any) -> GraphError:
    with pytest.raises(GraphError) as caught:
        send(simulator, payload, **overrides)
    return caught.value


def open_window(simulator: Simulator, wa_id: str = ANNA) -> str:
    return simulator.citizen_send(wa_id, {"type": "text", "text": "Hallo", "name": "Anna"})


def webhook(payload: WebhookPayload) -> dict[str, Any]:
    data = orjson.loads(payload.body)
    assert isinstance(data, dict)
    return data


def value_of(payload: WebhookPayload) -> dict[str, Any]:
    value = webhook(payload)["entry"][0]["changes"][0]["value"]
    assert isinstance(value, dict)
    return value


def wamid_of(result: dict[str, Any]) -> str:
    wamid = result["messages"][0]["id"]
    assert isinstance(wamid, str)
    return wamid


# --- sending ------------------------------------------------------------------------------------


def test_text_inside_the_window_is_accepted_like_meta(simulator: Simulator) -> None:
    # given
    open_window(simulator)
    # when
    result = send(simulator, text("+" + ANNA))
    # then
    assert result == {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "+" + ANNA, "wa_id": ANNA}],
        "messages": [{"id": wamid_of(result)}],
    }
    assert wamid_of(result).startswith("wamid.")
    thread = simulator.thread(ANNA)
    assert thread is not None
    assert [(m.direction, m.type, m.status) for m in thread[1]] == [
        ("in", "text", None),
        ("out", "text", "accepted"),
    ]


def test_statuses_are_signed_meta_webhooks_in_order(
    simulator: Simulator, dispatcher: FakeDispatcher
) -> None:
    # given
    open_window(simulator)
    wamid = wamid_of(send(simulator, text(ANNA, biz_opaque_callback_data="delivery-42")))
    # when
    payloads = dispatcher.run_scheduled()
    # then
    assert [value_of(p)["statuses"][0]["status"] for p in payloads] == ["sent", "delivered", "read"]
    sent = webhook(payloads[0])
    assert sent["object"] == "whatsapp_business_account"
    assert sent["entry"][0]["id"] == "200000000000001"
    value = sent["entry"][0]["changes"][0]["value"]
    assert sent["entry"][0]["changes"][0]["field"] == "messages"
    assert value["metadata"] == {
        "display_phone_number": "4929321000000",
        "phone_number_id": PHONE_NUMBER_ID,
    }
    status = value["statuses"][0]
    assert status["id"] == wamid
    assert status["recipient_id"] == ANNA
    assert status["biz_opaque_callback_data"] == "delivery-42"
    assert status["pricing"] == {
        "billable": False,
        "pricing_model": "PMP",
        "category": "service",
        "type": "free_customer_service",
    }
    assert status["conversation"]["origin"] == {"type": "service"}
    assert "pricing" not in value_of(payloads[2])["statuses"][0]
    expected = hmac.new(b"simulator-app-secret", payloads[0].body, hashlib.sha256).hexdigest()
    assert payloads[0].signature == f"sha256={expected}"
    thread = simulator.thread(ANNA)
    assert thread is not None
    assert [event.status for event in thread[1][1].status_history] == [
        "accepted",
        "sent",
        "delivered",
        "read",
    ]


def test_a_status_never_goes_backwards(simulator: Simulator, dispatcher: FakeDispatcher) -> None:
    # given: the read job runs before the sent job (as under load, from parallel senders)
    open_window(simulator)
    send(simulator, text(ANNA))
    jobs = [job for _, job in dispatcher.scheduled]
    # when
    read_payload = jobs[2]()
    late_sent = jobs[0]()
    # then
    assert read_payload is not None
    assert late_sent is None


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "An access token is required to request this resource."),
        ("wrong", "Invalid OAuth access token - Cannot parse access token"),
    ],
)
def test_bad_token_is_oauth_error_190_with_http_401(
    simulator: Simulator, dispatcher: FakeDispatcher, token: str | None, message: str
) -> None:
    error = graph_error(simulator, text(ANNA), access_token=token)
    body = error.to_body()["error"]
    assert (error.http_status, body["code"], body["type"], body["message"]) == (
        401,
        190,
        "OAuthException",
        message,
    )
    assert simulator.citizens() == []
    assert dispatcher.scheduled == []


def test_unknown_phone_number_id_is_graph_100_subcode_33(simulator: Simulator) -> None:
    error = graph_error(simulator, text(ANNA), phone_number_id="999")
    body = error.to_body()["error"]
    assert (error.http_status, body["code"], body["error_subcode"], body["type"]) == (
        400,
        100,
        33,
        "GraphMethodException",
    )


@pytest.mark.parametrize("version", ["v21.0", "v17.0", "v100.5"])
def test_any_dotted_api_version_is_accepted(simulator: Simulator, version: str) -> None:
    open_window(simulator)
    assert wamid_of(send(simulator, text(ANNA), version=version))


@pytest.mark.parametrize("version", ["21.0", "v21", "latest"])
def test_malformed_api_version_is_refused(simulator: Simulator, version: str) -> None:
    assert graph_error(simulator, text(ANNA), version=version).code == 2500


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"messaging_product": "sms"}, 100),
        ({"to": "0151-1234"}, 100),
        ({"to": "12345"}, 100),
        ({"type": "poll"}, 100),
        ({"recipient_type": "group"}, 100),
        ({"text": {"body": ""}}, 100),
        ({"text": {"body": "x" * 4097}}, 100),
    ],
)
def test_malformed_text_sends_are_refused(
    simulator: Simulator, change: dict[str, Any], code: int
) -> None:
    # given
    open_window(simulator)
    # when
    error = graph_error(simulator, {**text(ANNA), **change})
    # then
    assert (error.code, error.http_status) == (code, 400)
    thread = simulator.thread(ANNA)
    assert thread is not None
    assert len(thread[1]) == 1


def test_text_of_exactly_4096_characters_is_accepted(simulator: Simulator) -> None:
    open_window(simulator)
    assert wamid_of(send(simulator, text(ANNA, "x" * 4096)))


def test_error_body_has_metas_shape(simulator: Simulator) -> None:
    error = graph_error(simulator, {**text(ANNA), "messaging_product": "sms"})
    body = error.to_body()
    assert set(body) == {"error"}
    assert body["error"]["message"] == "(#100) Invalid parameter"
    assert body["error"]["type"] == "OAuthException"
    assert body["error"]["error_data"] == {
        "messaging_product": "whatsapp",
        "details": "The parameter messaging_product is required.",
    }
    assert body["error"]["fbtrace_id"].startswith("A")


# --- rate limits --------------------------------------------------------------------------------


def test_throughput_over_the_limit_is_130429_until_the_second_has_passed(
    clock: FakeClock, dispatcher: FakeDispatcher
) -> None:
    # given
    simulator = Simulator(
        SimulatorConfig(throughput_per_second=3), clock=clock, dispatcher=dispatcher
    )
    recipients = [f"49151000000{index:02d}" for index in range(5)]
    for recipient in recipients[:3]:
        send(simulator, text(recipient))
    # when
    error = graph_error(simulator, text(recipients[3]))
    clock.advance(0.5)
    still_limited = graph_error(simulator, text(recipients[3]))
    clock.advance(0.51)
    result = send(simulator, text(recipients[3]))
    # then
    assert (error.code, error.http_status) == (130429, 400)
    assert still_limited.code == 130429
    assert wamid_of(result)
    assert simulator.stats()["sends"]["errors_by_code"] == {"130429": 2}


def test_stats_tell_when_the_latest_send_was_accepted_and_a_refusal_does_not_count(
    clock: FakeClock, dispatcher: FakeDispatcher
) -> None:
    # given: a number allowed one send per second, nothing sent yet
    simulator = Simulator(
        SimulatorConfig(throughput_per_second=1), clock=clock, dispatcher=dispatcher
    )
    before = simulator.stats()["sends"]["last_accepted_at"]
    # when: one send is accepted, and 0.3 s later one is refused (130429)
    send(simulator, text("4915100000001"))
    accepted_at = clock()
    clock.advance(0.3)
    graph_error(simulator, text("4915100000002"))
    # then: the benchmark's end is the accepted send, not the refusal
    assert before is None
    assert simulator.stats()["sends"]["last_accepted_at"] == accepted_at


def test_pair_limit_allows_a_burst_then_131056_then_one_per_interval(
    clock: FakeClock, dispatcher: FakeDispatcher
) -> None:
    # given
    simulator = Simulator(
        SimulatorConfig(pair_limit_burst=10, pair_limit_interval_seconds=6.0),
        clock=clock,
        dispatcher=dispatcher,
    )
    open_window(simulator)
    for _ in range(10):
        send(simulator, text(ANNA))
    # when
    refused = graph_error(simulator, text(ANNA))
    other_recipient = send(simulator, text(BERND))
    clock.advance(5.9)
    too_early = graph_error(simulator, text(ANNA))
    clock.advance(0.1)
    recovered = send(simulator, text(ANNA))
    again_refused = graph_error(simulator, text(ANNA))
    # then
    assert (refused.code, refused.http_status) == (131056, 400)
    assert refused.message == "(#131056) (Business Account, Consumer Account) pair rate limit hit"
    assert wamid_of(other_recipient)
    assert too_early.code == 131056
    assert wamid_of(recovered)
    assert again_refused.code == 131056
    thread = simulator.thread(ANNA)
    assert thread is not None
    assert sum(m.direction == "out" for m in thread[1]) == 11


def test_a_refused_send_leaves_no_trace(clock: FakeClock, dispatcher: FakeDispatcher) -> None:
    # given
    simulator = Simulator(SimulatorConfig(pair_limit_burst=1), clock=clock, dispatcher=dispatcher)
    send(simulator, text(ANNA))
    scheduled_before = len(dispatcher.scheduled)
    # when
    graph_error(simulator, text(ANNA))
    graph_error(simulator, {**text(BERND), "type": "poll"})
    # then
    assert len(dispatcher.scheduled) == scheduled_before
    assert [citizen["wa_id"] for citizen in simulator.citizens()] == [ANNA]
    assert simulator.stats()["sends"]["accepted"] == 1
    assert simulator.stats()["sends"]["rejected"] == 2


# --- the 24-hour window -------------------------------------------------------------------------


def test_outside_the_window_status_mode_accepts_then_fails_with_131047(
    simulator: Simulator, dispatcher: FakeDispatcher
) -> None:
    # when
    wamid = wamid_of(send(simulator, text(ANNA)))
    payloads = dispatcher.run_scheduled()
    # then
    assert len(payloads) == 1
    status = value_of(payloads[0])["statuses"][0]
    assert (status["id"], status["status"]) == (wamid, "failed")
    assert status["errors"][0]["code"] == 131047
    assert status["errors"][0]["title"] == "Re-engagement message"
    assert "pricing" not in status


def test_outside_the_window_sync_mode_refuses_with_131047(
    clock: FakeClock, dispatcher: FakeDispatcher
) -> None:
    # given
    simulator = Simulator(
        SimulatorConfig(window_error_mode="sync"), clock=clock, dispatcher=dispatcher
    )
    # when
    error = graph_error(simulator, text(ANNA))
    # then
    assert (error.code, error.http_status) == (131047, 400)
    assert simulator.citizens() == []
    assert dispatcher.scheduled == []


def test_the_window_closes_after_window_seconds(
    clock: FakeClock, dispatcher: FakeDispatcher
) -> None:
    # given
    simulator = Simulator(
        SimulatorConfig(window_error_mode="sync", window_seconds=86400),
        clock=clock,
        dispatcher=dispatcher,
    )
    open_window(simulator)
    clock.advance(86399)
    send(simulator, text(ANNA))
    # when
    clock.advance(1)
    error = graph_error(simulator, text(ANNA))
    # then
    assert error.code == 131047


def test_a_new_citizen_message_reopens_the_window(
    clock: FakeClock, dispatcher: FakeDispatcher
) -> None:
    simulator = Simulator(
        SimulatorConfig(window_error_mode="sync"), clock=clock, dispatcher=dispatcher
    )
    open_window(simulator)
    clock.advance(90000)
    open_window(simulator)
    assert wamid_of(send(simulator, text(ANNA)))


# --- templates ----------------------------------------------------------------------------------


def test_template_outside_the_window_is_accepted_and_rendered(
    simulator: Simulator, dispatcher: FakeDispatcher
) -> None:
    # when
    result = send(simulator, template("wieder_erreichbar", "de", "Anna"))
    payloads = dispatcher.run_scheduled()
    # then
    assert result["messages"][0]["message_status"] == "accepted"
    assert [value_of(p)["statuses"][0]["status"] for p in payloads] == ["sent", "delivered", "read"]
    assert value_of(payloads[0])["statuses"][0]["pricing"] == {
        "billable": True,
        "pricing_model": "PMP",
        "category": "utility",
        "type": "regular",
    }
    thread = simulator.thread(ANNA)
    assert thread is not None
    message = thread[1][0]
    assert message.summary == (
        "Hallo Anna, wir haben auf Ihre Nachricht geantwortet. Tippen Sie auf 'Antworten', "
        "um den Chat fortzusetzen."
    )
    assert message.template is not None
    assert [(b.type, b.text, b.payload) for b in message.template.buttons] == [
        ("quick_reply", "Antworten", "Antworten")
    ]


@pytest.mark.parametrize(
    ("name", "language", "parameters", "code", "details"),
    [
        (
            "gibt_es_nicht",
            "de",
            ("x",),
            132001,
            "template name (gibt_es_nicht) does not exist in de",
        ),
        (
            "wieder_erreichbar",
            "fr",
            ("x",),
            132001,
            "template name (wieder_erreichbar) does not exist in fr",
        ),
        (
            "wieder_erreichbar",
            "de",
            (),
            132000,
            "body: number of localizable_params (0) does not match the expected number of params (1)",
        ),
        (
            "info_kanal_meldung",
            "de",
            ("Baustelle",),
            132000,
            "body: number of localizable_params (1) does not match the expected number of params (2)",
        ),
    ],
)
def test_template_errors(
    simulator: Simulator,
    name: str,
    language: str,
    parameters: tuple[str, ...],
    code: int,
    details: str,
) -> None:
    error = graph_error(simulator, template(name, language, *parameters))
    assert (error.code, error.details, error.http_status) == (code, details, 400)


def test_template_header_parameters_are_counted(simulator: Simulator) -> None:
    payload = template("info_kanal_anmeldung", "de")
    error = graph_error(simulator, payload)
    payload["template"]["components"].append(
        {"type": "header", "parameters": [{"type": "text", "text": "Musterstadt"}]}
    )
    result = send(simulator, payload)
    assert error.code == 132000
    assert error.details.startswith("header:")
    assert wamid_of(result)


def test_paused_template_is_refused_with_132015(simulator: Simulator) -> None:
    simulator.register_template(
        {"name": "pausiert", "language": "de", "body": "Hallo", "status": "PAUSED"}
    )
    assert graph_error(simulator, template("pausiert", "de")).code == 132015


def test_template_quick_reply_returns_a_button_message_with_payload_and_context(
    simulator: Simulator, dispatcher: FakeDispatcher
) -> None:
    # given
    payload = template("termin_erinnerung", "de", "3. März", "10:30")
    payload["template"]["components"].append(
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": "1",
            "parameters": [{"type": "payload", "payload": "termin-7-absagen"}],
        }
    )
    wamid = wamid_of(send(simulator, payload))
    # when
    simulator.citizen_send(ANNA, {"type": "button", "message_id": wamid, "index": 1})
    # then
    message = value_of(dispatcher.submitted[-1])["messages"][0]
    assert message["type"] == "button"
    assert message["button"] == {"payload": "termin-7-absagen", "text": "Absagen"}
    assert message["context"] == {"from": "4929321000000", "id": wamid}


# --- interactive --------------------------------------------------------------------------------


def list_message(rows: int, first_title: str = "Müllabfuhr") -> dict[str, Any]:
    titles = [first_title] + [f"Thema {index}" for index in range(1, rows)]
    return {
        "messaging_product": "whatsapp",
        "to": ANNA,
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "Worum geht es?"},
            "action": {
                "button": "Themen",
                "sections": [
                    {
                        "title": "Themen",
                        "rows": [
                            {"id": f"row-{index}", "title": title}
                            for index, title in enumerate(titles)
                        ],
                    }
                ],
            },
        },
    }


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (buttons(ANNA, ("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")), 131009),
        (buttons(ANNA, ("a", "x" * 21)), 131009),
        (buttons(ANNA, ("a", "Ja"), ("a", "Nein")), 131009),
        (buttons(ANNA, ("a", "Ja"), ("b", "Ja")), 131009),
        (buttons(ANNA, ("a", "Ja"), body="x" * 1025), 131009),
        (buttons(ANNA), 100),
        (list_message(11), 131009),
        (list_message(1, first_title="y" * 25), 131009),
    ],
)
def test_invalid_interactive_messages_are_refused(
    simulator: Simulator, payload: dict[str, Any], code: int
) -> None:
    open_window(simulator)
    assert graph_error(simulator, payload).code == code


def test_interactive_limits_are_inclusive(simulator: Simulator) -> None:
    open_window(simulator)
    send(simulator, buttons(ANNA, ("a", "x" * 20), ("b", "B"), ("c", "C"), body="y" * 1024))
    send(simulator, list_message(10, first_title="z" * 24))


def test_button_tap_becomes_an_interactive_button_reply(
    simulator: Simulator, dispatcher: FakeDispatcher
) -> None:
    # given
    open_window(simulator)
    wamid = wamid_of(send(simulator, buttons(ANNA, ("ja", "Ja"), ("nein", "Nein"))))
    # when
    reply_id = simulator.citizen_send(
        ANNA, {"type": "button_reply", "message_id": wamid, "button_id": "nein"}
    )
    # then
    value = value_of(dispatcher.submitted[-1])
    assert value["contacts"] == [{"profile": {"name": "Anna"}, "wa_id": ANNA}]
    message = value["messages"][0]
    assert message["id"] == reply_id
    assert message["from"] == ANNA
    assert message["type"] == "interactive"
    assert message["interactive"] == {
        "type": "button_reply",
        "button_reply": {"id": "nein", "title": "Nein"},
    }
    assert message["context"] == {"from": "4929321000000", "id": wamid}
    assert message["timestamp"] == "1800000000"


def test_list_pick_becomes_a_list_reply_with_description(
    simulator: Simulator, dispatcher: FakeDispatcher
) -> None:
    open_window(simulator)
    payload = list_message(2)
    payload["interactive"]["action"]["sections"][0]["rows"][1]["description"] = "Straßen, Wege"
    wamid = wamid_of(send(simulator, payload))
    simulator.citizen_send(ANNA, {"type": "list_reply", "message_id": wamid, "row_id": "row-1"})
    message = value_of(dispatcher.submitted[-1])["messages"][0]
    assert message["interactive"] == {
        "type": "list_reply",
        "list_reply": {"id": "row-1", "title": "Thema 1", "description": "Straßen, Wege"},
    }


def test_tapping_an_unknown_button_is_a_control_error(
    simulator: Simulator, dispatcher: FakeDispatcher
) -> None:
    open_window(simulator)
    wamid = wamid_of(send(simulator, buttons(ANNA, ("ja", "Ja"))))
    submitted_before = len(dispatcher.submitted)
    with pytest.raises(ControlError):
        simulator.citizen_send(
            ANNA, {"type": "button_reply", "message_id": wamid, "button_id": "vielleicht"}
        )
    assert len(dispatcher.submitted) == submitted_before


# --- media, reactions, read receipts --------------------------------------------------------------


def upload(simulator: Simulator, mime_type: str = "image/png", data: bytes = b"\x89PNG....") -> str:
    result = simulator.upload_media(
        version="v21.0",
        phone_number_id=PHONE_NUMBER_ID,
        access_token=TOKEN,
        messaging_product="whatsapp",
        data=data,
        mime_type=mime_type,
        filename="plan.png",
    )
    media_id = result["id"]
    assert isinstance(media_id, str)
    return media_id


def test_media_upload_then_send_by_id(simulator: Simulator) -> None:
    # given
    open_window(simulator)
    media_id = upload(simulator)
    # when
    result = send(
        simulator,
        {"messaging_product": "whatsapp", "to": ANNA, "type": "image", "image": {"id": media_id}},
    )
    info = simulator.media_info(version="v21.0", media_id=media_id, access_token=TOKEN)
    # then
    assert wamid_of(result)
    assert (info.mime_type, info.file_size, info.sha256) == (
        "image/png",
        8,
        hashlib.sha256(b"\x89PNG....").hexdigest(),
    )


def test_unknown_media_id_is_refused_with_131053(simulator: Simulator) -> None:
    open_window(simulator)
    payload = {"messaging_product": "whatsapp", "to": ANNA, "type": "image", "image": {"id": "1"}}
    assert graph_error(simulator, payload).code == 131053


def test_unsupported_media_type_upload_is_refused(simulator: Simulator) -> None:
    with pytest.raises(GraphError) as caught:
        upload(simulator, mime_type="application/x-msdownload")
    assert caught.value.code == 131053


def test_citizen_image_arrives_with_media_id_and_sha256(
    simulator: Simulator, dispatcher: FakeDispatcher
) -> None:
    data = b"\xff\xd8\xff\xe0 a jpeg"
    simulator.citizen_send(
        ANNA,
        {
            "type": "image",
            "data_base64": base64.b64encode(data).decode(),
            "mime_type": "image/jpeg",
            "caption": "Schlagloch",
        },
    )
    image = value_of(dispatcher.submitted[-1])["messages"][0]["image"]
    assert image["caption"] == "Schlagloch"
    assert image["mime_type"] == "image/jpeg"
    assert image["sha256"] == hashlib.sha256(data).hexdigest()
    media = simulator.get_media(image["id"])
    assert media is not None
    assert media.data == data


def test_citizen_reaction_and_its_removal(simulator: Simulator, dispatcher: FakeDispatcher) -> None:
    open_window(simulator)
    wamid = wamid_of(send(simulator, text(ANNA)))
    simulator.citizen_send(ANNA, {"type": "reaction", "message_id": wamid, "emoji": "👍"})
    added = value_of(dispatcher.submitted[-1])["messages"][0]
    simulator.citizen_send(ANNA, {"type": "reaction", "message_id": wamid, "emoji": ""})
    removed = value_of(dispatcher.submitted[-1])["messages"][0]
    assert added["reaction"] == {"message_id": wamid, "emoji": "👍"}
    assert removed["reaction"] == {"message_id": wamid, "emoji": ""}
    thread = simulator.thread(ANNA)
    assert thread is not None
    assert thread[1][1].citizen_reaction == ""


def test_business_reaction_needs_a_message_of_that_chat(simulator: Simulator) -> None:
    # given
    citizen_message = open_window(simulator)
    open_window(simulator, BERND)
    reaction = {"messaging_product": "whatsapp", "type": "reaction"}
    # when
    wrong_chat = graph_error(
        simulator,
        {**reaction, "to": BERND, "reaction": {"message_id": citizen_message, "emoji": "👍"}},
    )
    missing_emoji = graph_error(
        simulator, {**reaction, "to": ANNA, "reaction": {"message_id": citizen_message}}
    )
    send(
        simulator,
        {**reaction, "to": ANNA, "reaction": {"message_id": citizen_message, "emoji": "🙏"}},
    )
    # then
    assert (wrong_chat.code, missing_emoji.code) == (131009, 100)
    thread = simulator.thread(ANNA)
    assert thread is not None
    assert thread[1][0].business_reaction == "🙏"


def test_mark_as_read_answers_success_and_marks_earlier_messages(simulator: Simulator) -> None:
    first = open_window(simulator)
    second = open_window(simulator)
    result = send(
        simulator,
        {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": second,
            "typing_indicator": {"type": "text"},
        },
    )
    assert result == {"success": True}
    thread = simulator.thread(ANNA)
    assert thread is not None
    assert [(m.id, m.is_read_by_business) for m in thread[1]] == [(first, True), (second, True)]
    citizen = simulator.citizen(ANNA)
    assert citizen is not None
    assert citizen["is_typing_shown"] is True


def test_mark_as_read_of_unknown_message_is_100(simulator: Simulator) -> None:
    payload = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.nope"}
    assert graph_error(simulator, payload).code == 100


def test_without_auto_read_messages_are_read_when_the_citizen_opens_the_chat(
    clock: FakeClock, dispatcher: FakeDispatcher
) -> None:
    # given
    simulator = Simulator(SimulatorConfig(auto_read=False), clock=clock, dispatcher=dispatcher)
    open_window(simulator)
    wamid = wamid_of(send(simulator, text(ANNA)))
    statuses = [value_of(p)["statuses"][0]["status"] for p in dispatcher.run_scheduled()]
    # when
    marked = simulator.mark_read_by_citizen(ANNA)
    # then
    assert statuses == ["sent", "delivered"]
    assert marked == 1
    last = value_of(dispatcher.submitted[-1])["statuses"][0]
    assert (last["id"], last["status"]) == (wamid, "read")


@pytest.mark.parametrize(
    ("config", "reachable"),
    [(SimulatorConfig(failure_rate=1.0), True), (SimulatorConfig(), False)],
)
def test_undeliverable_sends_fail_with_131026(
    clock: FakeClock, dispatcher: FakeDispatcher, config: SimulatorConfig, reachable: bool
) -> None:
    simulator = Simulator(config, clock=clock, dispatcher=dispatcher)
    open_window(simulator)
    simulator.upsert_citizen(ANNA, is_reachable=reachable)
    send(simulator, text(ANNA))
    payloads = dispatcher.run_scheduled()
    assert [value_of(p)["statuses"][0]["status"] for p in payloads] == ["failed"]
    assert value_of(payloads[0])["statuses"][0]["errors"][0]["code"] == 131026


# --- control ------------------------------------------------------------------------------------


def test_redeliver_submits_the_identical_signed_payload(
    simulator: Simulator, dispatcher: FakeDispatcher
) -> None:
    wamid = open_window(simulator)
    original = dispatcher.submitted[-1]
    assert simulator.redeliver(wamid, 3) == 3
    assert dispatcher.submitted[-3:] == [original, original, original]
    with pytest.raises(ControlError):
        simulator.redeliver(wamid, 0)


def test_config_from_env_and_partial_updates() -> None:
    config = SimulatorConfig.from_env(
        {
            "SIMULATOR_THROUGHPUT_PER_SECOND": "1000",
            "SIMULATOR_AUTO_READ": "false",
            "SIMULATOR_WEBHOOK_URL": "http://127.0.0.1:9000/hook",
            "UNRELATED": "1",
        }
    )
    assert (config.throughput_per_second, config.auto_read, config.webhook_url) == (
        1000,
        False,
        "http://127.0.0.1:9000/hook",
    )
    assert config.updated({"failure_rate": "0.25"}).failure_rate == 0.25
    for bad in ({"no_such_setting": 1}, {"window_error_mode": "loud"}, {"failure_rate": 2}):
        with pytest.raises(ValueError):
            config.updated(bad)


def test_runtime_config_update_is_all_or_nothing(simulator: Simulator) -> None:
    with pytest.raises(ValueError):
        simulator.update_config({"throughput_per_second": 5, "failure_rate": 7})
    assert simulator.config.throughput_per_second == 80
    assert simulator.update_config({"throughput_per_second": 5}).throughput_per_second == 5
    assert simulator.config.as_public_dict()["access_token"] == "***"


def test_reset_forgets_everything(simulator: Simulator, dispatcher: FakeDispatcher) -> None:
    open_window(simulator)
    send(simulator, text(ANNA))
    simulator.update_config({"failure_rate": 0.5})
    simulator.reset(restore_config=True)
    assert simulator.citizens() == []
    assert dispatcher.scheduled == []
    assert simulator.config.failure_rate == 0.0
    assert simulator.stats()["sends"]["accepted"] == 0


def test_personas_load_as_citizens(simulator: Simulator) -> None:
    assert simulator.load_personas() == 8
    citizens = simulator.citizens()
    assert len(citizens) == 8
    assert citizens[0] == {
        "wa_id": "4915112345601",
        "name": "Anna Schneider",
        "reachable": True,
        "online": True,
        "last_inbound_at": None,
        "window_open": False,
        "is_typing_shown": False,
        "message_count": 0,
        "version": 1,
    }


def test_threads_keep_only_the_newest_messages(
    clock: FakeClock, dispatcher: FakeDispatcher
) -> None:
    simulator = Simulator(
        SimulatorConfig(thread_max_messages=10), clock=clock, dispatcher=dispatcher
    )
    sent = [simulator.citizen_send(ANNA, {"type": "text", "text": f"{i}"}) for i in range(12)]
    thread = simulator.thread(ANNA)
    assert thread is not None
    assert [message.id for message in thread[1]] == sent[2:]
    with pytest.raises(ControlError):
        simulator.redeliver(sent[0], 1)


def test_sampled_out_sends_get_no_status_webhooks_but_failures_still_do(
    clock: FakeClock, dispatcher: FakeDispatcher
) -> None:
    # given
    simulator = Simulator(
        SimulatorConfig(status_sample_rate=0.0), clock=clock, dispatcher=dispatcher
    )
    open_window(simulator)
    # when
    send(simulator, text(ANNA))
    simulator.upsert_citizen(ANNA, is_reachable=False)
    send(simulator, text(ANNA))
    # then
    assert [value_of(p)["statuses"][0]["status"] for p in dispatcher.run_scheduled()] == ["failed"]
    assert simulator.stats()["sends"]["without_statuses"] == 1


def test_status_jobs_build_one_webhook_for_several_statuses(
    simulator: Simulator, dispatcher: FakeDispatcher
) -> None:
    # given
    open_window(simulator)
    first = wamid_of(send(simulator, text(ANNA)))
    second = wamid_of(send(simulator, text(ANNA)))
    sent_jobs = [job for delay, job in dispatcher.scheduled if delay == 0.05]
    # when
    entries = [job.emit() for job in sent_jobs]  # type: ignore[attr-defined]
    payload = sent_jobs[0].build(entries)  # type: ignore[attr-defined]
    # then
    assert [(s["id"], s["status"]) for s in value_of(payload)["statuses"]] == [
        (first, "sent"),
        (second, "sent"),
    ]
    assert payload.message_ids == (first, second)
    expected = hmac.new(b"simulator-app-secret", payload.body, hashlib.sha256).hexdigest()
    assert payload.signature == f"sha256={expected}"


# --- number changes ------------------------------------------------------------------------------


def test_changing_number_sends_whatsapps_system_notice_and_moves_the_chat(
    simulator: Simulator, dispatcher: FakeDispatcher
) -> None:
    simulator.citizen_send(ANNA, {"type": "text", "text": "Hallo", "name": "Anna"})
    new_number = "4917012345678"

    wamid = simulator.citizen_change_number(ANNA, new_number)

    value = value_of(dispatcher.submitted[-1])
    # Meta's shape: from the old number, no contacts array, the new number in system.wa_id
    assert "contacts" not in value
    assert value["messages"] == [
        {
            "from": ANNA,
            "id": wamid,
            "timestamp": value["messages"][0]["timestamp"],
            "type": "system",
            "system": {
                "body": f"User Anna changed from {ANNA} to {new_number}",
                "wa_id": new_number,
                "type": "user_changed_number",
            },
        }
    ]
    assert simulator.citizen(ANNA) is None
    moved = simulator.citizen(new_number)
    assert moved is not None and moved["name"] == "Anna" and moved["message_count"] == 1


def test_changing_number_of_an_unknown_phone_or_to_the_same_number_is_refused(
    simulator: Simulator, dispatcher: FakeDispatcher
) -> None:
    with pytest.raises(ControlError, match="unknown citizen"):
        simulator.citizen_change_number(ANNA, "4917012345678")
    simulator.citizen_send(ANNA, {"type": "text", "text": "Hallo"})
    with pytest.raises(ControlError, match="must differ"):
        simulator.citizen_change_number(ANNA, ANNA)
    assert len(dispatcher.submitted) == 1
