"""Meta's template management as the simulator plays it: submission, review after a delay,
rejections with Meta's reason, the status webhook, sending only approved templates, and the
time-to-live of messages to an offline phone (engine with a fake clock and dispatcher)."""

from typing import Any

import orjson
import pytest

from townhall.simulator.engine import Simulator
from townhall.simulator.errors import GraphError
from townhall.simulator.tests.conftest import FakeClock, FakeDispatcher

TOKEN = "simulator-access-token"
WABA_ID = "200000000000001"
PHONE_NUMBER_ID = "100000000000001"
ANNA = "4915112345601"


def submission(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": "strassensperrung",
        "language": "de",
        "category": "UTILITY",
        "components": [
            {
                "type": "BODY",
                "text": "Achtung: {{1}} ist gesperrt. Mehr dazu: {{2}}. Ihre Stadt.",
                "example": {"body_text": [["Die Hauptstraße", "Umleitung über die Ringstraße"]]},
            },
            {
                "type": "BUTTONS",
                "buttons": [
                    {
                        "type": "URL",
                        "text": "Mehr lesen",
                        "url": "https://musterstadt.example/beitrag/{{1}}",
                        "example": ["https://musterstadt.example/beitrag/abc"],
                    }
                ],
            },
        ],
    }
    payload.update(overrides)
    return payload


def create(simulator: Simulator, payload: dict[str, Any]) -> dict[str, Any]:
    return simulator.create_template(
        version="v21.0", waba_id=WABA_ID, access_token=TOKEN, payload=payload
    )


def listed(simulator: Simulator) -> dict[str, dict[str, Any]]:
    page = simulator.list_templates(
        version="v21.0", waba_id=WABA_ID, access_token=TOKEN, limit=1000
    )
    return {f"{item['name']}:{item['language']}": item for item in page["data"]}


def template_send(name: str, *parameters: str, suffix: str = "abc") -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "to": ANNA,
        "type": "template",
        "template": {
            "name": name,
            "language": {"code": "de"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]},
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "0",
                    "parameters": [{"type": "text", "text": suffix}],
                },
            ],
        },
    }


def send(simulator: Simulator, payload: dict[str, Any]) -> dict[str, Any]:
    return simulator.send(
        version="v21.0", phone_number_id=PHONE_NUMBER_ID, access_token=TOKEN, payload=payload
    )


def template_webhook_value(dispatcher: FakeDispatcher) -> dict[str, Any]:
    payload = dispatcher.submitted[-1]
    assert payload.kind == "template"
    change = orjson.loads(payload.body)["entry"][0]["changes"][0]
    assert change["field"] == "message_template_status_update"
    value: dict[str, Any] = change["value"]
    return value


def test_a_submitted_template_is_pending_then_approved_with_a_webhook(
    simulator: Simulator, dispatcher: FakeDispatcher
) -> None:
    # when
    answer = create(simulator, submission())
    # then
    assert answer == {"id": answer["id"], "status": "PENDING", "category": "UTILITY"}
    assert listed(simulator)["strassensperrung:de"]["status"] == "PENDING"
    assert [delay for delay, _ in dispatcher.scheduled] == [3.0]

    dispatcher.run_scheduled()

    assert listed(simulator)["strassensperrung:de"]["status"] == "APPROVED"
    assert template_webhook_value(dispatcher) == {
        "event": "APPROVED",
        "message_template_id": int(answer["id"]),
        "message_template_name": "strassensperrung",
        "message_template_language": "de",
        "reason": "NONE",
        "message_template_category": "UTILITY",
    }


@pytest.mark.parametrize(
    ("body", "examples"),
    [
        ("{{1}} ist gesperrt, Ihre Stadt.", [["Die Hauptstraße"]]),
        ("Gesperrt ist: {{1}}", [["Die Hauptstraße"]]),
        ("Gesperrt: {{1}} {{2}} bis Montag.", [["Die Hauptstraße", "Süd"]]),
        ("Gesperrt ist {{1}} bis Montag.", []),
        ("Gesperrt ist {{1}} bis Montag. " + "x" * 1000, [["Die Hauptstraße"]]),
    ],
)
def test_a_template_breaking_metas_rules_is_rejected_with_invalid_format(
    simulator: Simulator, dispatcher: FakeDispatcher, body: str, examples: list[list[str]]
) -> None:
    component: dict[str, Any] = {"type": "BODY", "text": body}
    if examples:
        component["example"] = {"body_text": examples}
    create(simulator, submission(components=[component]))

    dispatcher.run_scheduled()

    item = listed(simulator)["strassensperrung:de"]
    assert (item["status"], item["rejected_reason"]) == ("REJECTED", "INVALID_FORMAT")
    value = template_webhook_value(dispatcher)
    assert (value["event"], value["reason"]) == ("REJECTED", "INVALID_FORMAT")


def test_a_pending_template_cannot_be_sent_and_an_approved_one_can(
    simulator: Simulator, dispatcher: FakeDispatcher
) -> None:
    create(simulator, submission())

    with pytest.raises(GraphError) as refused:
        send(simulator, template_send("strassensperrung", "Die Hauptstraße", "Umleitung"))
    assert refused.value.code == 132001
    assert refused.value.message == "(#132001) Template name does not exist in the translation"

    dispatcher.run_scheduled()
    answer = send(simulator, template_send("strassensperrung", "Die Hauptstraße", "Umleitung"))
    assert answer["messages"][0]["message_status"] == "accepted"


def test_the_same_name_and_language_cannot_be_submitted_twice(simulator: Simulator) -> None:
    create(simulator, submission())

    with pytest.raises(GraphError) as refused:
        create(simulator, submission())

    assert (refused.value.code, refused.value.subcode) == (100, 2388024)


def test_a_rejected_template_is_edited_and_reviewed_again(
    simulator: Simulator, dispatcher: FakeDispatcher
) -> None:
    bad = [{"type": "BODY", "text": "{{1}} ist gesperrt.", "example": {"body_text": [["A"]]}}]
    answer = create(simulator, submission(components=bad))
    dispatcher.run_scheduled()

    simulator.edit_template(
        version="v21.0",
        template_id=answer["id"],
        access_token=TOKEN,
        payload={"components": submission()["components"]},
    )
    assert listed(simulator)["strassensperrung:de"]["status"] == "PENDING"
    dispatcher.run_scheduled()

    item = listed(simulator)["strassensperrung:de"]
    assert (item["id"], item["status"]) == (answer["id"], "APPROVED")


def test_a_ttl_outside_metas_range_is_refused_at_once(simulator: Simulator) -> None:
    with pytest.raises(GraphError) as refused:
        create(simulator, submission(message_send_ttl_seconds=50000))

    assert refused.value.code == 100
    assert "between 30 and 43200" in refused.value.details


def test_the_list_pages_with_cursors(simulator: Simulator) -> None:
    first = simulator.list_templates(version="v21.0", waba_id=WABA_ID, access_token=TOKEN, limit=4)
    second = simulator.list_templates(
        version="v21.0",
        waba_id=WABA_ID,
        access_token=TOKEN,
        limit=100,
        after=first["paging"]["cursors"]["after"],
    )

    names = [item["name"] for item in first["data"] + second["data"]]
    assert len(first["data"]) == 4
    assert "next" in first["paging"] and "next" not in second["paging"]
    assert len(names) == len(simulator.templates())


def test_a_message_to_an_offline_phone_fails_when_its_ttl_runs_out(
    simulator: Simulator, clock: FakeClock, dispatcher: FakeDispatcher
) -> None:
    # given: the urgent template lives 2 h; Anna's phone is off
    simulator.upsert_citizen(ANNA, is_online=False)
    answer = send(
        simulator, template_send("info_kanal_dringend", "Sperrung", "Hauptstraße gesperrt")
    )
    wamid = answer["messages"][0]["id"]
    # when: more than two hours pass
    clock.advance(7201)
    dispatcher.run_scheduled()
    simulator.upsert_citizen(ANNA, is_online=True)
    dispatcher.run_scheduled()
    # then: sent, then failed; never delivered late
    history = [event.status for event in simulator._messages[wamid][1].status_history]
    assert history == ["accepted", "sent", "failed"]
    statuses = [
        orjson.loads(p.body)["entry"][0]["changes"][0]["value"] for p in dispatcher.submitted
    ]
    failed = [s["statuses"][0] for s in statuses if s["statuses"][0]["status"] == "failed"]
    assert [error["code"] for error in failed[0]["errors"]] == [131026]


def test_a_message_waits_for_an_offline_phone_within_its_ttl(
    simulator: Simulator, clock: FakeClock, dispatcher: FakeDispatcher
) -> None:
    simulator.upsert_citizen(ANNA, is_online=False)
    answer = send(
        simulator, template_send("info_kanal_dringend", "Sperrung", "Hauptstraße gesperrt")
    )
    wamid = answer["messages"][0]["id"]
    dispatcher.scheduled = [item for item in dispatcher.scheduled if item[0] < 7200]
    dispatcher.run_scheduled()

    clock.advance(3600)
    simulator.upsert_citizen(ANNA, is_online=True)
    dispatcher.run_scheduled()

    history = [event.status for event in simulator._messages[wamid][1].status_history]
    assert history == ["accepted", "sent", "delivered", "read"]
