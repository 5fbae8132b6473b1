"""Template lifecycle end to end over loopback HTTP against the real simulator and the real
web and worker processes: submit → pending → approved (status webhook), rejections with
Meta's reason on the staff page, the sync via GET, refusals of unapproved templates, and the
time-to-live of a message to an offline phone."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from townhall.simulator.testing import local_http
from townhall.whatsapp import client as client_module
from townhall.whatsapp import outbound
from townhall.whatsapp.actions import do_queue_message
from townhall.whatsapp.errors import TemplateError
from townhall.whatsapp.models import Message, MessageTemplate
from townhall.whatsapp.policy import Purpose
from townhall.whatsapp.template_actions import (
    do_save_template_draft,
    do_submit_template,
    do_sync_templates,
)
from townhall.whatsapp.templates import TemplateNotApproved

pytestmark = pytest.mark.e2e

WA_ID = "4915112345601"
DRAFT: dict[str, Any] = {
    "name": "strassensperrung",
    "language": "de",
    "category": "utility",
    "body": "Achtung: *{{1}}* ist gesperrt. Umleitung: {{2}}. Ihre Stadt Musterstadt.",
    "body_examples": ["Die Hauptstraße", "über die Ringstraße"],
    "footer": "Stadt Musterstadt",
    "buttons": [
        {
            "type": "url",
            "text": "Mehr lesen",
            "url": "https://musterstadt.example/beitrag/{{1}}",
            "example": "k3x9q2",
        }
    ],
    "message_send_ttl_seconds": 7200,
}


def use_simulator(settings: Any, stack: Any, *, review_seconds: float) -> None:
    """This test process talks to the stack's simulator; its reviews take this long."""
    settings.WHATSAPP = {**settings.WHATSAPP, "API_BASE_URL": stack.simulator_url}
    control(stack, "/_sim/config", {"template_review_seconds": review_seconds})


def control(stack: Any, path: str, body: dict[str, Any] | None = None) -> Any:
    if body is None:
        response = local_http.get(f"{stack.simulator_url}{path}", timeout=10)
    else:
        response = local_http.post(f"{stack.simulator_url}{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def status_of(template: MessageTemplate) -> str:
    template.refresh_from_db()
    return template.status


def staff_page(url: str) -> str:
    user = User.objects.create_user("pressestelle", is_staff=True)
    user.groups.add(Group.objects.get(name="Redaktion"))
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(user)
    return browser.get(url).content.decode()


def test_a_template_written_in_townhall_is_pending_then_approved_and_sendable(
    live_stack, wait, settings
):
    use_simulator(settings, live_stack, review_seconds=1.0)
    # given: a draft that follows Meta's rules
    draft = do_save_template_draft(None, DRAFT, actor=None)

    # when: it is submitted
    submitted = do_submit_template(draft, actor=None)

    # then: Meta has it in review, under the id it gave
    assert submitted.status == MessageTemplate.Status.PENDING
    at_meta = {t["name"]: t for t in client_module.get_client().list_templates()}
    assert at_meta["strassensperrung"]["status"] == "PENDING"
    assert at_meta["strassensperrung"]["id"] == submitted.provider_id
    assert at_meta["strassensperrung"]["message_send_ttl_seconds"] == 7200
    # and: Meta's approval arrives by webhook (web → worker) without any sync
    wait(lambda: status_of(draft) == MessageTemplate.Status.APPROVED, what="approval webhook")
    assert draft.status_reason == ""
    # and: now the phone gets it, with the post's id at the end of the link
    message = draft.to_outbound(
        body_parameters=["Die Hauptstraße", "über die Ringstraße"], url_suffix="k3x9q2"
    )
    sent = client_module.get_client().send(WA_ID, message)
    thread = control(live_stack, f"/_sim/citizens/{WA_ID}/messages")["messages"]
    on_phone = next(m for m in thread if m["id"] == sent.message_id)
    assert "Achtung: *Die Hauptstraße* ist gesperrt." in str(on_phone)
    assert "https://musterstadt.example/beitrag/k3x9q2" in str(on_phone)


def test_metas_rejection_arrives_with_its_reason_and_shows_on_the_staff_page(
    live_stack, wait, settings
):
    use_simulator(settings, live_stack, review_seconds=60)
    draft = do_submit_template(do_save_template_draft(None, DRAFT, actor=None), actor=None)

    # when: Meta's reviewers reject the content (a rule Townhall cannot check ahead)
    control(
        live_stack,
        f"/_sim/templates/{draft.provider_id}/status",
        {"event": "REJECTED", "reason": "TAG_CONTENT_MISMATCH"},
    )

    # then
    wait(lambda: status_of(draft) == MessageTemplate.Status.REJECTED, what="rejection webhook")
    assert draft.status_reason == "TAG_CONTENT_MISMATCH"
    page = staff_page(reverse("staff:template_detail", args=[draft.pk]))
    assert "TAG_CONTENT_MISMATCH: The content does not fit the chosen category." in page
    # and: a rejected template can be changed and goes back to review as the same template
    changed = do_save_template_draft(draft, {"footer": "Ihre Stadt Musterstadt"}, actor=None)
    assert changed.status == MessageTemplate.Status.DRAFT
    resubmitted = do_submit_template(changed, actor=None)
    assert (resubmitted.status, resubmitted.provider_id) == ("pending", draft.provider_id)


def test_a_rule_breaking_template_written_elsewhere_is_rejected_by_meta_and_imported(
    live_stack, wait, settings
):
    use_simulator(settings, live_stack, review_seconds=0.2)
    # given: someone submitted a template with a parameter at the start (WhatsApp Manager)
    created = client_module.get_client().create_template(
        {
            "name": "sperrung_kurz",
            "language": "de",
            "category": "UTILITY",
            "components": [
                {
                    "type": "BODY",
                    "text": "{{1}} ist gesperrt.",
                    "example": {"body_text": [["Die Hauptstraße"]]},
                }
            ],
        }
    )
    wait(
        lambda: (
            {t["name"]: t for t in client_module.get_client().list_templates()}["sperrung_kurz"][
                "status"
            ]
            == "REJECTED"
        ),
        what="Meta's review",
    )

    # when
    counts = do_sync_templates()

    # then
    imported = MessageTemplate.objects.get(name="sperrung_kurz")
    assert counts["imported"] >= 1
    assert (imported.status, imported.status_reason, imported.provider_id) == (
        "rejected",
        "INVALID_FORMAT",
        created["id"],
    )
    assert imported.body == "{{1}} ist gesperrt."
    page = staff_page(reverse("staff:templates"))
    assert "INVALID_FORMAT: Invalid format" in page


def test_the_sync_imports_metas_templates_and_follows_their_status(live_stack, settings):
    use_simulator(settings, live_stack, review_seconds=60)
    at_meta = control(live_stack, "/_sim/templates")["templates"]

    first = do_sync_templates()

    assert first == {"updated": 0, "imported": len(at_meta), "unchanged": 0, "gone": 0}
    post_template = MessageTemplate.objects.get(name="info_kanal_dringend", language="de")
    assert post_template.status == MessageTemplate.Status.APPROVED
    assert post_template.message_send_ttl_seconds == 7200
    assert post_template.buttons[0]["url"] == "https://musterstadt.example/p/{{1}}"
    # when: Meta pauses it (its webhook may also arrive; the sync must agree either way)
    control(live_stack, f"/_sim/templates/{post_template.provider_id}/status", {"event": "PAUSED"})
    do_sync_templates()
    assert status_of(post_template) == MessageTemplate.Status.PAUSED
    second = do_sync_templates()
    assert second == {"updated": 0, "imported": 0, "unchanged": len(at_meta), "gone": 0}


def test_an_unapproved_template_is_refused_by_townhall_and_by_meta(live_stack, settings):
    use_simulator(settings, live_stack, review_seconds=60)
    pending = do_submit_template(do_save_template_draft(None, DRAFT, actor=None), actor=None)
    assert pending.status == MessageTemplate.Status.PENDING

    # Townhall refuses before anything is queued
    with pytest.raises(TemplateNotApproved):
        pending.to_outbound(body_parameters=["A", "B"], url_suffix="x")
    assert Message.objects.filter(direction=Message.Direction.OUTBOUND).count() == 0

    # and Meta (the simulator) refuses a forced send with 132001
    forced = outbound.Template(
        "strassensperrung",
        "de",
        body_parameters=("A", "B"),
        button_parameters=(outbound.TemplateButtonParameter(0, "url", "x"),),
    )
    with pytest.raises(TemplateError) as refused:
        client_module.get_client().send(WA_ID, forced)
    assert refused.value.code == 132001


def test_a_message_to_an_offline_phone_fails_when_the_templates_ttl_runs_out(
    live_stack, wait, settings
):
    use_simulator(settings, live_stack, review_seconds=60)
    # given: a template that lives one second (below Meta's 30 s minimum, to keep the test
    # short: the registry of the simulator takes it as WhatsApp Manager would any value)
    control(
        live_stack,
        "/_sim/templates",
        {
            "name": "kurz_gueltig",
            "language": "de",
            "body": "Die Sperrung der {{1}} ist aufgehoben. Ihre Stadt.",
            "message_send_ttl_seconds": 1,
        },
    )
    # and: Anna wrote (the bot answered), then her phone went offline
    control(live_stack, f"/_sim/citizens/{WA_ID}/send", {"type": "text", "text": "Hallo"})
    wait(
        lambda: Message.objects.filter(
            wa_id=WA_ID, direction="in", handled_at__isnull=False
        ).exists(),
        what="inbound handled",
    )
    control(live_stack, "/_sim/citizens", {"wa_id": WA_ID, "online": False})

    # when
    message = do_queue_message(
        WA_ID,
        outbound.Template("kurz_gueltig", "de", body_parameters=("Hauptstraße",)),
        purpose=Purpose.SERVICE_REPLY,
    )

    # then: sent, never delivered, failed after the TTL with Meta's 131026
    def failed() -> bool:
        message.refresh_from_db()
        return message.status == Message.Status.FAILED

    wait(failed, timeout=20, what="failed status after the TTL")
    assert message.error_code == 131026
    thread = control(live_stack, f"/_sim/citizens/{WA_ID}/messages")["messages"]
    history = next(m for m in thread if m["id"] == message.provider_id)["statuses"]
    assert [event["status"] for event in history] == ["accepted", "sent", "failed"]
