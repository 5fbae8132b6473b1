"""Meta's message_template_status_update webhook: parsed into TemplateStatusUpdate and
applied by the webhook processing, next to (never instead of) messages and statuses."""

from __future__ import annotations

import orjson
import pytest

from townhall.whatsapp.actions import do_process_pending_webhook_events, do_record_webhook_event
from townhall.whatsapp.models import MessageTemplate, WebhookEvent
from townhall.whatsapp.tests.payloads import load_fixture
from townhall.whatsapp.types import TemplateStatusUpdate, parse_webhook


def test_an_approval_is_parsed() -> None:
    parsed = parse_webhook(load_fixture("template_status_approved"))

    assert parsed.template_updates == (
        TemplateStatusUpdate(
            event="APPROVED",
            template_id="1165653804222873",
            name="info_kanal_beitrag",
            language="de",
            reason="NONE",
            category="UTILITY",
        ),
    )
    assert (parsed.messages, parsed.statuses, parsed.skipped) == ((), (), ())


def test_a_template_status_without_a_name_is_skipped_with_a_note() -> None:
    payload = load_fixture("template_status_rejected")
    del payload["entry"][0]["changes"][0]["value"]["message_template_name"]

    parsed = parse_webhook(payload)

    assert parsed.template_updates == ()
    assert parsed.skipped == ("entry 0 change 0: template status without event, name or language",)


def make_pending() -> MessageTemplate:
    return MessageTemplate.objects.create(
        name="info_kanal_beitrag",
        language="de",
        body="Die Stadt informiert: {{1}}. Mehr online.",
        body_examples=["Sperrung"],
        status=MessageTemplate.Status.PENDING,
        provider_id="1165653804222873",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fixture", "status", "reason"),
    [
        ("template_status_approved", MessageTemplate.Status.APPROVED, ""),
        ("template_status_rejected", MessageTemplate.Status.REJECTED, "INVALID_FORMAT"),
    ],
)
def test_the_webhook_processing_applies_metas_decision(
    fixture: str, status: str, reason: str, django_capture_on_commit_callbacks
) -> None:
    template = make_pending()

    with django_capture_on_commit_callbacks(execute=False):
        do_record_webhook_event(orjson.dumps(load_fixture(fixture)))
    do_process_pending_webhook_events()

    template.refresh_from_db()
    assert (template.status, template.status_reason) == (status, reason)
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED


@pytest.mark.django_db
def test_a_decision_on_an_unknown_template_changes_nothing(
    django_capture_on_commit_callbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        do_record_webhook_event(orjson.dumps(load_fixture("template_status_approved")))
    do_process_pending_webhook_events()

    assert MessageTemplate.objects.count() == 0
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
