"""Bad input at scale (property-based, hypothesis): no JSON body and no text makes the
webhook parser, the intake and processing, or the outbound validators raise anything but
their documented errors. The budget is the ``ci`` profile in conftest.py."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from townhall.core.tests.strategies import json_values, mutated
from townhall.whatsapp import outbound
from townhall.whatsapp.actions import do_record_webhook_event
from townhall.whatsapp.models import WebhookEvent
from townhall.whatsapp.tests.payloads import fixture_names, load_fixture
from townhall.whatsapp.types import MalformedWebhook, ParsedWebhook, parse_webhook

REAL_PAYLOADS = [load_fixture(name) for name in fixture_names()]
any_text = st.text(max_size=5000)
short_text = st.text(max_size=300)


def parse_or_malformed(payload: Any) -> ParsedWebhook | None:
    try:
        return parse_webhook(payload)
    except MalformedWebhook:
        return None


@given(json_values)
def test_parser_takes_any_json_or_says_it_is_malformed(payload: Any) -> None:
    parsed = parse_or_malformed(payload)

    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        assert parsed is None


@given(mutated(REAL_PAYLOADS))
def test_parser_survives_any_value_anywhere_in_a_real_payload(payload: Any) -> None:
    parsed = parse_or_malformed(payload)

    if parsed is not None:
        # what it did parse is fully typed: every message has an id, a sender and a type
        for message in parsed.messages:
            assert isinstance(message.id, str) and message.id
            assert isinstance(message.from_wa_id, str)
            assert isinstance(message.text, str)
        for status in parsed.statuses:
            assert isinstance(status.status, str)


@pytest.mark.django_db
@settings(max_examples=40)
@given(payload=mutated(REAL_PAYLOADS))
def test_any_signed_json_is_stored_and_processed_without_an_uncaught_exception(
    payload: Any, django_capture_on_commit_callbacks, fake_cloud_api
) -> None:
    # given a body that passed the signature check (so it is stored, never lost); the
    # standard library writes any JSON, integers beyond 64 bits included
    body = json.dumps(payload).encode()

    # when the intake stores it and the worker processes it (tasks run on commit)
    with django_capture_on_commit_callbacks(execute=True):
        do_record_webhook_event(body)

    # then it is processed or rejected with a reason; a task that raised fails the test
    event = WebhookEvent.objects.get(body=body.decode())
    assert event.state in {WebhookEvent.State.PROCESSED, WebhookEvent.State.REJECTED}
    if event.state == WebhookEvent.State.REJECTED:
        assert event.error


# --- outbound validators ------------------------------------------------------------------------


def valid_required(value: str, max_chars: int) -> bool:
    return bool(value.strip()) and len(value) <= max_chars


@given(any_text, st.booleans())
def test_text_is_valid_exactly_when_meta_would_take_it(body: str, preview_url: bool) -> None:
    try:
        message = outbound.Text(body, preview_url=preview_url)
    except outbound.InvalidOutboundMessage:
        assert not valid_required(body, outbound.TEXT_MAX_CHARS)
    else:
        assert valid_required(body, outbound.TEXT_MAX_CHARS)
        assert orjson.loads(orjson.dumps(message.to_payload()))["text"]["body"] == body


@given(
    short_text,
    st.lists(st.tuples(st.text(max_size=300), st.text(max_size=30)), max_size=5),
    st.text(max_size=80),
    st.text(max_size=80),
)
def test_reply_buttons_refuse_only_with_invalid_outbound_message(
    body: str, buttons: list[tuple[str, str]], header: str, footer: str
) -> None:
    try:
        message = outbound.ReplyButtons(body, tuple(buttons), header=header, footer=footer)
    except outbound.InvalidOutboundMessage:
        return
    payload = message.to_payload()
    assert len(payload["interactive"]["action"]["buttons"]) == len(buttons) <= 3
    assert message.summary()


@given(
    short_text,
    st.text(max_size=30),
    st.lists(
        st.tuples(
            st.text(max_size=30),
            st.lists(
                st.tuples(st.text(max_size=300), st.text(max_size=30), st.text(max_size=80)),
                max_size=11,
            ),
        ),
        max_size=3,
    ),
)
def test_list_messages_refuse_only_with_invalid_outbound_message(
    body: str, button: str, sections: list[tuple[str, list[tuple[str, str, str]]]]
) -> None:
    try:
        message = outbound.ListMessage(
            body,
            button,
            tuple(
                outbound.ListSection(
                    title,
                    tuple(outbound.ListRow(row_id, title, desc) for row_id, title, desc in rows),
                )
                for title, rows in sections
            ),
        )
    except outbound.InvalidOutboundMessage:
        return
    assert message.to_payload()["type"] == "interactive"


@given(
    st.text(max_size=12),
    st.text(max_size=300),
    st.text(max_size=300),
    st.text(max_size=1100),
    st.text(max_size=300),
)
def test_media_refuses_only_with_invalid_outbound_message(
    kind: str, link: str, media_id: str, caption: str, filename: str
) -> None:
    try:
        message = outbound.Media(
            kind, link=link, media_id=media_id, caption=caption, filename=filename
        )
    except outbound.InvalidOutboundMessage:
        return
    assert message.to_payload()["type"] == kind


@given(st.text(max_size=300), st.text(max_size=20))
def test_reactions_refuse_only_with_invalid_outbound_message(message_id: str, emoji: str) -> None:
    try:
        message = outbound.Reaction(message_id, emoji)
    except outbound.InvalidOutboundMessage:
        return
    assert message.to_payload()["type"] == "reaction"
