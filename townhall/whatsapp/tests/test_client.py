"""The Cloud API client builds Meta's request bodies and turns error answers into types."""

import httpx
import orjson
import pytest

from townhall.whatsapp import errors, outbound
from townhall.whatsapp.client import CloudAPIClient

PHONE_NUMBER_ID = "100000000000001"


class Recorder:
    def __init__(self, response: httpx.Response | Exception | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.response = response

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.response, Exception):
            raise self.response
        if self.response is not None:
            return self.response
        return httpx.Response(
            200,
            json={
                "messaging_product": "whatsapp",
                "contacts": [{"input": "4915112345678", "wa_id": "4915112345678"}],
                "messages": [{"id": "wamid.HBgLNDkxNTExMjM0NTY3OBUCABIYFjNFQjBD"}],
            },
        )

    @property
    def body(self) -> dict:
        return orjson.loads(self.requests[-1].content)


def make_client(recorder: Recorder) -> CloudAPIClient:
    return CloudAPIClient(
        base_url="https://graph.example.test",
        api_version="v21.0",
        phone_number_id=PHONE_NUMBER_ID,
        access_token="token-123",
        transport=httpx.MockTransport(recorder),
    )


def test_send_text_posts_meta_shaped_body_with_bearer_token():
    recorder = Recorder()

    result = make_client(recorder).send_text("4915112345678", "Guten Tag aus dem Rathaus")

    request = recorder.requests[-1]
    assert request.method == "POST"
    assert str(request.url) == f"https://graph.example.test/v21.0/{PHONE_NUMBER_ID}/messages"
    assert request.headers["Authorization"] == "Bearer token-123"
    assert recorder.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "4915112345678",
        "type": "text",
        "text": {"body": "Guten Tag aus dem Rathaus", "preview_url": False},
    }
    assert result.message_id == "wamid.HBgLNDkxNTExMjM0NTY3OBUCABIYFjNFQjBD"
    assert result.wa_id == "4915112345678"


def test_send_template_with_parameters():
    recorder = Recorder()

    make_client(recorder).send_template(
        "4915112345678", "wieder_erreichbar", "de", body_parameters=("Anna",)
    )

    assert recorder.body["type"] == "template"
    assert recorder.body["template"] == {
        "name": "wieder_erreichbar",
        "language": {"code": "de"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Anna"}]}],
    }


def test_send_reply_buttons():
    recorder = Recorder()

    make_client(recorder).send_buttons(
        "4915112345678",
        "Was möchten Sie abonnieren?",
        (("info", "Info-Kanal"), ("chat", "Chat"), ("both", "Beides")),
    )

    assert recorder.body["interactive"] == {
        "type": "button",
        "body": {"text": "Was möchten Sie abonnieren?"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "info", "title": "Info-Kanal"}},
                {"type": "reply", "reply": {"id": "chat", "title": "Chat"}},
                {"type": "reply", "reply": {"id": "both", "title": "Beides"}},
            ]
        },
    }


def test_send_list():
    recorder = Recorder()
    section = outbound.ListSection(
        "Themen",
        (
            outbound.ListRow("urgent", "Dringende Meldungen"),
            outbound.ListRow("traffic", "Verkehr & Baustellen", "Sperrungen, Umleitungen"),
        ),
    )

    make_client(recorder).send_list("4915112345678", "Welche Themen?", "Themen wählen", (section,))

    assert recorder.body["interactive"]["type"] == "list"
    assert recorder.body["interactive"]["action"] == {
        "button": "Themen wählen",
        "sections": [
            {
                "title": "Themen",
                "rows": [
                    {"id": "urgent", "title": "Dringende Meldungen"},
                    {
                        "id": "traffic",
                        "title": "Verkehr & Baustellen",
                        "description": "Sperrungen, Umleitungen",
                    },
                ],
            }
        ],
    }


def test_send_image_by_link_and_document_by_media_id():
    recorder = Recorder()
    client = make_client(recorder)

    client.send_media(
        "4915112345678", "image", link="https://musterstadt.example/p.jpg", caption="Marktplatz"
    )
    image_body = recorder.body
    client.send_media("4915112345678", "document", media_id="1234567", filename="Satzung.pdf")

    assert image_body["image"] == {
        "link": "https://musterstadt.example/p.jpg",
        "caption": "Marktplatz",
    }
    assert recorder.body["type"] == "document"
    assert recorder.body["document"] == {"id": "1234567", "filename": "Satzung.pdf"}


def test_reaction_reply_context_and_mark_as_read():
    recorder = Recorder()
    client = make_client(recorder)

    client.send_reaction("4915112345678", "wamid.citizen-1", "👍")
    assert recorder.body["reaction"] == {"message_id": "wamid.citizen-1", "emoji": "👍"}

    client.send("4915112345678", outbound.Text("Danke!"), reply_to="wamid.citizen-1")
    assert recorder.body["context"] == {"message_id": "wamid.citizen-1"}

    recorder.response = httpx.Response(200, json={"success": True})
    client.mark_as_read("wamid.citizen-1")
    assert recorder.body == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.citizen-1",
    }


@pytest.mark.parametrize(
    ("http_status", "code", "error_class"),
    [
        (400, 130429, errors.ThroughputLimited),
        (400, 131056, errors.PairRateLimited),
        (400, 131047, errors.OutsideServiceWindow),
        (400, 131026, errors.Undeliverable),
        (401, 190, errors.AuthError),
        (403, 10, errors.AuthError),
        (500, 1, errors.TransientServerError),
        (503, 131016, errors.TransientServerError),
    ],
)
def test_error_answers_raise_typed_errors(http_status, code, error_class):
    recorder = Recorder(
        httpx.Response(
            http_status,
            json={
                "error": {
                    "message": f"(#{code}) something",
                    "type": "OAuthException",
                    "code": code,
                    "error_data": {"messaging_product": "whatsapp", "details": "details"},
                    "fbtrace_id": "AZ1",
                }
            },
        )
    )

    with pytest.raises(error_class) as raised:
        make_client(recorder).send_text("4915112345678", "Hallo")

    assert raised.value.code == code
    assert raised.value.http_status == http_status
    assert raised.value.details == "details"


def test_5xx_without_json_is_transient():
    recorder = Recorder(httpx.Response(502, content=b"<html>Bad Gateway</html>"))

    with pytest.raises(errors.TransientServerError) as raised:
        make_client(recorder).send_text("4915112345678", "Hallo")

    assert raised.value.is_retryable


def test_network_failure_is_a_retryable_transport_error():
    recorder = Recorder(httpx.ConnectError("refused"))

    with pytest.raises(errors.TransportError) as raised:
        make_client(recorder).send_text("4915112345678", "Hallo")

    assert raised.value.is_retryable


def test_success_without_message_id_is_an_error():
    recorder = Recorder(httpx.Response(200, json={"messaging_product": "whatsapp"}))

    with pytest.raises(errors.TransportError):
        make_client(recorder).send_text("4915112345678", "Hallo")


@pytest.mark.parametrize(
    "build",
    [
        lambda: outbound.Text(""),
        lambda: outbound.Text("x" * 4097),
        lambda: outbound.ReplyButtons("Body", (("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"))),
        lambda: outbound.ReplyButtons("Body", (("a", "Ein sehr langer Buttontitel"),)),
        lambda: outbound.ReplyButtons("Body", (("a", "Ja"), ("a", "Nein"))),
        lambda: outbound.ListMessage(
            "Body",
            "Wählen",
            (
                outbound.ListSection(
                    "", tuple(outbound.ListRow(str(i), f"Zeile {i}") for i in range(11))
                ),
            ),
        ),
        lambda: outbound.ListRow("a", "Ein Zeilentitel der viel zu lang ist"),
        lambda: outbound.Media("image"),
        lambda: outbound.Media("image", link="ftp://x"),
        lambda: outbound.Media("sticker", media_id="1", caption="no"),
        lambda: outbound.Media("hologram", media_id="1"),
        lambda: outbound.Template("", "de"),
    ],
)
def test_invalid_messages_are_refused_before_sending(build):
    with pytest.raises(outbound.InvalidOutboundMessage):
        build()
