"""Sending a stored template: the values are checked against its definition, and the
payload has Meta's exact shape (header media, body, URL suffix, quick replies)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from django.utils import translation

from townhall.whatsapp import outbound
from townhall.whatsapp.client import CloudAPIClient
from townhall.whatsapp.errors import AuthError
from townhall.whatsapp.models import MessageTemplate
from townhall.whatsapp.templates import (
    TemplateNotApproved,
    TemplateParametersMismatch,
    approved_template,
    parameter_text,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def in_english() -> Iterator[None]:
    with translation.override("en"):
        yield


def make_post_template(**fields: object) -> MessageTemplate:
    values: dict[str, object] = {
        "name": "info_kanal_beitrag",
        "language": "de",
        "category": MessageTemplate.Category.UTILITY,
        "header_format": MessageTemplate.HeaderFormat.IMAGE,
        "header_media_link": "https://musterstadt.example/logo.png",
        "body": "Neue Meldung der Stadt Musterstadt: *{{1}}*\n\nWorum es geht: {{2}}\n\nAbmelden mit STOPP.",
        "body_examples": ["Straßensperrung", "Die Hauptstraße ist gesperrt."],
        "buttons": [
            {"type": "url", "text": "Mehr lesen", "url": "https://musterstadt.example/p/{{1}}"},
            {"type": "quick_reply", "text": "Abmelden"},
        ],
        "status": MessageTemplate.Status.APPROVED,
    }
    values.update(fields)
    return MessageTemplate.objects.create(**values)


def test_an_approved_post_template_becomes_metas_exact_payload() -> None:
    template = make_post_template()

    message = template.to_outbound(
        body_parameters=["Straßensperrung", "Die Hauptstraße ist ab Montag gesperrt."],
        url_suffix="abc123",
        header_link="https://musterstadt.example/media/sperrung.jpg",
        quick_reply_payloads=["stop:info"],
    )

    assert message.to_payload() == {
        "type": "template",
        "template": {
            "name": "info_kanal_beitrag",
            "language": {"code": "de"},
            "components": [
                {
                    "type": "header",
                    "parameters": [
                        {
                            "type": "image",
                            "image": {"link": "https://musterstadt.example/media/sperrung.jpg"},
                        }
                    ],
                },
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Straßensperrung"},
                        {"type": "text", "text": "Die Hauptstraße ist ab Montag gesperrt."},
                    ],
                },
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "0",
                    "parameters": [{"type": "text", "text": "abc123"}],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "1",
                    "parameters": [{"type": "payload", "payload": "stop:info"}],
                },
            ],
        },
    }


def test_a_media_header_falls_back_on_the_templates_own_link() -> None:
    template = make_post_template()

    message = template.to_outbound(body_parameters=["a", "b"], url_suffix="x1")

    assert message.header_media == outbound.TemplateHeaderMedia(
        "image", "https://musterstadt.example/logo.png"
    )


@pytest.mark.parametrize(
    "status",
    [
        MessageTemplate.Status.DRAFT,
        MessageTemplate.Status.PENDING,
        MessageTemplate.Status.REJECTED,
        MessageTemplate.Status.PAUSED,
    ],
)
def test_a_template_meta_has_not_approved_is_refused(status: str) -> None:
    template = make_post_template(status=status)

    with pytest.raises(TemplateNotApproved, match="Meta has not approved it"):
        template.to_outbound(body_parameters=["a", "b"], url_suffix="x1")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"body_parameters": ["only one"], "url_suffix": "x1"}, "takes 2 text values, not 1"),
        ({"body_parameters": ["a", "b"]}, "link button"),
        ({"body_parameters": ["a", "b\nc"], "url_suffix": "x1"}, "line breaks"),
        ({"body_parameters": ["a", " "], "url_suffix": "x1"}, "must not be empty"),
        (
            {"body_parameters": ["a", "b"], "url_suffix": "x", "quick_reply_payloads": ["1", "2"]},
            "has 1 quick-reply buttons",
        ),
    ],
)
def test_values_that_do_not_fit_the_template_are_refused(values: dict, message: str) -> None:
    template = make_post_template()

    with pytest.raises(TemplateParametersMismatch, match=message):
        template.to_outbound(**values)


def test_approved_template_finds_only_approved_ones() -> None:
    approved = make_post_template()
    make_post_template(language="en", status=MessageTemplate.Status.PENDING)

    assert approved_template("info_kanal_beitrag", "de") == approved
    assert approved_template("info_kanal_beitrag", "en") is None
    assert approved_template("unknown", "de") is None


def test_a_body_too_long_once_filled_in_is_refused() -> None:
    template = make_post_template()

    with pytest.raises(TemplateParametersMismatch, match="Meta allows at most 1024"):
        template.to_outbound(body_parameters=["Sperrung", "x" * 1000], url_suffix="x1")


def test_parameter_text_makes_paragraphs_one_line() -> None:
    assert parameter_text("Erster Absatz.\n\n  Zweiter\tTeil     hier.") == (
        "Erster Absatz. Zweiter Teil hier."
    )


def paged_meta(request: httpx.Request) -> httpx.Response:
    """Meta's template list in two pages with cursors."""
    assert request.url.path == "/v21.0/200000000000001/message_templates"
    if request.url.params.get("after") == "Mg==":
        return httpx.Response(200, json={"data": [{"name": "c"}], "paging": {"cursors": {}}})
    return httpx.Response(
        200,
        json={
            "data": [{"name": "a"}, {"name": "b"}],
            "paging": {"cursors": {"after": "Mg=="}, "next": "https://graph/next"},
        },
    )


def test_the_client_follows_metas_paging_cursors() -> None:
    api = CloudAPIClient(
        base_url="https://graph.example",
        api_version="v21.0",
        phone_number_id="100000000000001",
        access_token="token",
        business_account_id="200000000000001",
        transport=httpx.MockTransport(paged_meta),
    )

    assert [item["name"] for item in api.list_templates()] == ["a", "b", "c"]


def test_template_calls_need_the_business_account_id() -> None:
    api = CloudAPIClient(
        base_url="https://graph.example",
        api_version="v21.0",
        phone_number_id="100000000000001",
        access_token="token",
        transport=httpx.MockTransport(paged_meta),
    )

    with pytest.raises(AuthError, match="BUSINESS_ACCOUNT_ID"):
        api.list_templates()
