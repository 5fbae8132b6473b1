"""The simulator's views through Django's test client, against an in-process simulator.

No database and no network: the process-wide simulator is replaced by one with a fake
dispatcher for each test.
"""

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from townhall.simulator import engine
from townhall.simulator.engine import Simulator
from townhall.simulator.presentation import format_whatsapp
from townhall.simulator.tests.conftest import FakeDispatcher

pytestmark = pytest.mark.urls("townhall.simulator.urls")

ANNA = "4915112345601"
AUTH = {"Authorization": "Bearer simulator-access-token"}
MESSAGES_URL = "/v21.0/100000000000001/messages"


@pytest.fixture
def installed(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    monkeypatch.setattr(engine, "_instance", simulator)
    yield simulator


def post_json(
    client: Client, url: str, data: object, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = client.post(
        url, orjson.dumps(data), content_type="application/json", headers=headers
    )
    return {"status": response.status_code, "body": orjson.loads(response.content)}


def test_graph_send_and_error_bodies(client: Client, installed: Simulator) -> None:
    ok = post_json(
        client,
        MESSAGES_URL,
        {"messaging_product": "whatsapp", "to": ANNA, "type": "text", "text": {"body": "Hi"}},
        headers=AUTH,
    )
    unauthenticated = post_json(client, MESSAGES_URL, {"messaging_product": "whatsapp"})
    broken = client.post(MESSAGES_URL, b"{not json", content_type="application/json", headers=AUTH)
    wrong_method = client.get(MESSAGES_URL, headers=AUTH)
    assert ok["status"] == 200
    assert ok["body"]["contacts"] == [{"input": ANNA, "wa_id": ANNA}]
    assert unauthenticated["status"] == 401
    assert unauthenticated["body"]["error"]["code"] == 190
    assert (broken.status_code, orjson.loads(broken.content)["error"]["code"]) == (400, 100)
    assert (wrong_method.status_code, orjson.loads(wrong_method.content)["error"]["code"]) == (
        400,
        100,
    )


def test_media_endpoints(client: Client, installed: Simulator) -> None:
    # given
    uploaded = client.post(
        "/v21.0/100000000000001/media",
        {
            "messaging_product": "whatsapp",
            "type": "application/pdf",
            "file": SimpleUploadedFile("satzung.pdf", b"%PDF-1.4 test", "application/pdf"),
        },
        headers=AUTH,
    )
    media_id = orjson.loads(uploaded.content)["id"]
    # when
    info = orjson.loads(client.get(f"/v21.0/{media_id}", headers=AUTH).content)
    download = client.get(f"/_media/{media_id}", headers=AUTH)
    unauthenticated = client.get(f"/_media/{media_id}")
    deleted = client.delete(f"/v21.0/{media_id}", headers=AUTH)
    # then
    assert info == {
        "messaging_product": "whatsapp",
        "url": f"http://testserver/_media/{media_id}",
        "mime_type": "application/pdf",
        "sha256": info["sha256"],
        "file_size": 13,
        "id": media_id,
    }
    assert (download.status_code, download.content) == (200, b"%PDF-1.4 test")
    assert unauthenticated.status_code == 401
    assert orjson.loads(deleted.content) == {"success": True}
    assert client.get(f"/v21.0/{media_id}", headers=AUTH).status_code == 400


def test_control_api_errors_are_json(client: Client, installed: Simulator) -> None:
    wrong_method = client.get(f"/_sim/citizens/{ANNA}/send")
    unknown = client.get(f"/_sim/citizens/{ANNA}/messages")
    invalid = post_json(client, f"/_sim/citizens/{ANNA}/send", {"type": "carrier-pigeon"})
    bad_config = post_json(client, "/_sim/config", {"throughput_per_second": "many"})
    assert (wrong_method.status_code, wrong_method["Allow"]) == (405, "POST")
    assert unknown.status_code == 404
    assert invalid["status"] == 400
    assert bad_config["status"] == 400
    assert installed.citizens() == []


def test_control_citizen_send_and_thread(client: Client, installed: Simulator) -> None:
    sent = post_json(
        client, f"/_sim/citizens/{ANNA}/send", {"type": "text", "text": "Hallo", "name": "Anna"}
    )
    thread = orjson.loads(client.get(f"/_sim/citizens/{ANNA}/messages").content)
    assert sent["status"] == 200
    assert [(m["id"], m["direction"], m["type"], m["text"]) for m in thread["messages"]] == [
        (sent["body"]["message_id"], "in", "text", "Hallo")
    ]


def test_thread_fragment_is_204_while_unchanged(client: Client, installed: Simulator) -> None:
    # given
    installed.citizen_send(ANNA, {"type": "text", "text": "Hallo"})
    version = installed.thread_version(ANNA)
    # when
    unchanged = client.get(f"/phone/{ANNA}/thread/?v={version}")
    installed.citizen_send(ANNA, {"type": "text", "text": "Noch da?"})
    changed = client.get(f"/phone/{ANNA}/thread/?v={version}")
    # then
    assert unchanged.status_code == 204
    assert changed.status_code == 200
    assert f'?v={installed.thread_version(ANNA)}"' in changed.content.decode()


def test_phone_page_escapes_text_and_renders_formatting(
    client: Client, installed: Simulator
) -> None:
    installed.citizen_send(ANNA, {"type": "text", "text": "<script>alert(1)</script> *wichtig*"})
    html = client.get(f"/phone/{ANNA}/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <strong>wichtig</strong>" in html


def test_tapping_a_button_on_the_phone_sends_a_button_reply(
    client: Client, installed: Simulator, dispatcher: FakeDispatcher
) -> None:
    # given
    installed.citizen_send(ANNA, {"type": "text", "text": "Hallo"})
    sent = post_json(
        client,
        MESSAGES_URL,
        {
            "messaging_product": "whatsapp",
            "to": ANNA,
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Zufrieden?"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": "ja", "title": "Ja"}},
                        {"type": "reply", "reply": {"id": "nein", "title": "Nein"}},
                    ]
                },
            },
        },
        headers=AUTH,
    )
    wamid = sent["body"]["messages"][0]["id"]
    # when
    response = client.post(
        f"/phone/{ANNA}/reply/",
        {"message_id": wamid, "action": "button_reply", "value": "ja"},
        headers={"HX-Request": "true"},
    )
    # then
    assert response.status_code == 200
    assert response.content.decode().count("disabled") == 2
    message = orjson.loads(dispatcher.submitted[-1].body)["entry"][0]["changes"][0]["value"][
        "messages"
    ][0]
    assert message["interactive"]["button_reply"] == {"id": "ja", "title": "Ja"}


def test_reacting_twice_with_the_same_emoji_removes_the_reaction(
    client: Client, installed: Simulator, dispatcher: FakeDispatcher
) -> None:
    installed.citizen_send(ANNA, {"type": "text", "text": "Hallo"})
    sent = post_json(
        client,
        MESSAGES_URL,
        {"messaging_product": "whatsapp", "to": ANNA, "text": {"body": "Gern"}},
        headers=AUTH,
    )
    wamid = sent["body"]["messages"][0]["id"]
    for _ in range(2):
        client.post(f"/phone/{ANNA}/react/", {"message_id": wamid, "emoji": "👍"})
    emojis = [
        orjson.loads(payload.body)["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"][
            "emoji"
        ]
        for payload in dispatcher.submitted[-2:]
    ]
    assert emojis == ["👍", ""]


def test_index_creates_citizens_from_the_form(client: Client, installed: Simulator) -> None:
    response = client.post("/citizens/new/", {"wa_id": "+49 151 12345699", "name": "Erika"})
    assert response.status_code == 302
    assert response["Location"] == "/phone/4915112345699/"
    assert installed.citizen("4915112345699") is not None
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("*fett* _kursiv_ ~weg~", "<strong>fett</strong> <em>kursiv</em> <s>weg</s>"),
        ("a*b*c und snake_case_name", "a*b*c und snake_case_name"),
        ("```code```", "<code>code</code>"),
        (
            "Siehe https://musterstadt.de/termine.",
            'Siehe <a href="https://musterstadt.de/termine" rel="noopener noreferrer" '
            'target="_blank">https://musterstadt.de/termine</a>.',
        ),
        ('<b onclick="x">', "&lt;b onclick=&quot;x&quot;&gt;"),
        ("Zeile 1\nZeile 2", "Zeile 1<br>Zeile 2"),
    ],
)
def test_whatsapp_formatting(text: str, html: str) -> None:
    assert format_whatsapp(text) == html


def test_attaching_an_image_on_the_phone_sends_an_image_message(
    client: Client, installed: Simulator, dispatcher: FakeDispatcher
) -> None:
    # given
    installed.upsert_citizen(ANNA, name="Anna")
    image = SimpleUploadedFile("schlagloch.png", b"\x89PNG\r\n\x1a\n pixels", "image/png")
    # when
    response = client.post(
        f"/phone/{ANNA}/send/",
        {"text": "Hier, Ecke Marktstraße", "attachment": image},
        headers={"HX-Request": "true"},
    )
    # then
    assert response.status_code == 200
    message = orjson.loads(dispatcher.submitted[-1].body)["entry"][0]["changes"][0]["value"][
        "messages"
    ][0]
    assert message["type"] == "image"
    assert message["image"]["caption"] == "Hier, Ecke Marktstraße"
    assert message["image"]["mime_type"] == "image/png"
    assert f'src="/phone-media/{message["image"]["id"]}/"' in response.content.decode()


def test_several_phones_side_by_side(client: Client, installed: Simulator) -> None:
    installed.load_personas()
    response = client.get("/phones/?wa_id=4915112345601&wa_id=4917012345603&wa_id=4915100000000")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="phone"') == 2
    assert "Handy von Anna Schneider" in html
    assert "Handy von Lena Hoffmann" in html


def test_phone_number_details(client: Client, installed: Simulator) -> None:
    details = orjson.loads(client.get("/v21.0/100000000000001", headers=AUTH).content)
    assert details["verified_name"] == "Stadt Musterstadt"
    assert details["display_phone_number"] == "+4929321000000"


def test_control_citizen_upsert_validates_reachable(client: Client, installed: Simulator) -> None:
    created = post_json(client, "/_sim/citizens", {"wa_id": ANNA, "name": "Anna"})
    updated = post_json(client, "/_sim/citizens", {"wa_id": ANNA, "reachable": False})
    refused = post_json(client, "/_sim/citizens", {"wa_id": ANNA, "reachable": "false"})
    assert (created["status"], updated["status"], refused["status"]) == (201, 200, 400)
    assert updated["body"]["reachable"] is False
    assert updated["body"]["name"] == "Anna"
