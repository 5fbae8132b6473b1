"""The staff pages for message templates: who may read, write, submit and sync; live rule
checks and the phone preview."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from townhall.whatsapp.models import MessageTemplate

pytestmark = pytest.mark.django_db

FORM: dict[str, str] = {
    "name": "strassensperrung",
    "language": "de",
    "category": "utility",
    "header_format": "",
    "body": "Achtung, *{{1}}* ist gesperrt. Umleitung: {{2}}. Ihre Stadt.",
    "body_examples": "die Hauptstraße\nüber die Ringstraße",
    "footer": "Stadt Musterstadt",
    "link_text": "Mehr lesen",
    "link_url": "https://musterstadt.example/beitrag/{{1}}",
    "link_example": "k3x9q2",
    "quick_replies": "",
    "message_send_ttl_seconds": "7200",
}


@pytest.fixture
def editor(staff_user: User) -> User:
    staff_user.user_permissions.add(Permission.objects.get(codename="manage_templates"))
    return User.objects.get(pk=staff_user.pk)


@pytest.fixture
def editor_client(client: Client, editor: User) -> Client:
    client.force_login(editor)
    return client


def rejected_template() -> MessageTemplate:
    return MessageTemplate.objects.create(
        name="stadtfest",
        language="de",
        body="Das Stadtfest beginnt am {{1}} auf dem Markt.",
        body_examples=["Samstag"],
        status=MessageTemplate.Status.REJECTED,
        status_reason="INVALID_FORMAT",
    )


def test_every_staff_user_sees_the_templates_with_status_and_reason(staff_client: Client) -> None:
    rejected_template()

    page = staff_client.get(reverse("staff:templates"), HTTP_ACCEPT_LANGUAGE="en")

    html = page.content.decode()
    assert page.status_code == 200
    assert "stadtfest" in html
    assert 'class="badge badge--rejected">Rejected<' in html
    assert "INVALID_FORMAT: Invalid format" in html
    # no write controls without the permission
    assert reverse("staff:template_new") not in html
    assert reverse("staff:template_sync") not in html


@pytest.mark.parametrize(
    ("method", "url_name", "needs_id"),
    [
        ("get", "staff:template_new", False),
        ("post", "staff:template_new", False),
        ("post", "staff:template_check", False),
        ("post", "staff:template_sync", False),
        ("post", "staff:template_submit", True),
        ("post", "staff:template_detail", True),
    ],
)
def test_staff_without_manage_templates_cannot_write_submit_or_sync(
    staff_client: Client, method: str, url_name: str, needs_id: bool
) -> None:
    template = rejected_template()
    url = reverse(url_name, args=[template.pk] if needs_id else [])

    response = getattr(staff_client, method)(url, FORM)

    assert response.status_code == 403
    template.refresh_from_db()
    assert (template.status, template.body) == (
        MessageTemplate.Status.REJECTED,
        "Das Stadtfest beginnt am {{1}} auf dem Markt.",
    )
    assert MessageTemplate.objects.count() == 1


def test_anonymous_visitors_are_sent_to_the_login(client: Client) -> None:
    response = client.get(reverse("staff:templates"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff:login"))


def test_an_editor_saves_a_draft_that_follows_the_rules(
    editor_client: Client, editor: User
) -> None:
    response = editor_client.post(reverse("staff:template_new"), FORM)

    template = MessageTemplate.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("staff:template_detail", args=[template.pk])
    assert template.status == MessageTemplate.Status.DRAFT
    assert template.created_by == editor
    assert template.body_examples == ["die Hauptstraße", "über die Ringstraße"]
    assert template.buttons == [
        {
            "type": "url",
            "text": "Mehr lesen",
            "url": "https://musterstadt.example/beitrag/{{1}}",
            "example": "k3x9q2",
        }
    ]
    assert template.message_send_ttl_seconds == 7200
    detail = editor_client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The template follows Meta's rules." in detail
    assert "Submit to Meta" in detail


def test_the_live_check_lists_broken_rules_and_previews_the_message(
    editor_client: Client,
) -> None:
    form: dict[str, Any] = {**FORM, "body": "{{1}} ist gesperrt. Umleitung: {{2}}"}

    response = editor_client.post(
        reverse("staff:template_check"), form, HTTP_ACCEPT_LANGUAGE="en", HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "The body must not begin with a parameter; put some text before it." in html
    assert "The body must not end with a parameter; put some text after it." in html
    # the preview fills in the examples as the phone would show them
    assert "die Hauptstraße ist gesperrt. Umleitung: über die Ringstraße" in html
    assert "↗ Mehr lesen" in html


def test_the_preview_renders_whatsapp_formatting(editor_client: Client) -> None:
    response = editor_client.post(reverse("staff:template_check"), FORM)

    assert "Achtung, <strong>die Hauptstraße</strong> ist gesperrt." in response.content.decode()


def test_submitting_a_draft_that_breaks_a_rule_sends_nothing(editor_client: Client) -> None:
    template = MessageTemplate.objects.create(
        name="sperrung", language="de", body="{{1}} ist gesperrt.", body_examples=["A"]
    )

    response = editor_client.post(
        reverse("staff:template_submit", args=[template.pk]), HTTP_ACCEPT_LANGUAGE="en"
    )

    template.refresh_from_db()
    assert response.status_code == 302
    assert template.status == MessageTemplate.Status.DRAFT
    assert template.provider_id == ""
    page = editor_client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Not submitted; first fix: The body must not begin with a parameter" in page


def test_a_name_and_language_used_already_is_refused(editor_client: Client) -> None:
    rejected_template()

    response = editor_client.post(
        reverse("staff:template_new"), {**FORM, "name": "stadtfest"}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 200
    assert "A template with this name and language exists already." in response.content.decode()
    assert MessageTemplate.objects.count() == 1


def test_an_approved_template_is_shown_read_only(editor_client: Client) -> None:
    template = MessageTemplate.objects.create(
        name="info",
        language="de",
        body="Hallo {{1}}, willkommen.",
        body_examples=["Anna"],
        status=MessageTemplate.Status.APPROVED,
    )

    page = editor_client.get(reverse("staff:template_detail", args=[template.pk]))
    response = editor_client.post(
        reverse("staff:template_detail", args=[template.pk]), FORM, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert (
        '<form method="post" action="' + reverse("staff:template_detail", args=[template.pk])
        not in page.content.decode()
    )
    template.refresh_from_db()
    assert template.body == "Hallo {{1}}, willkommen."
    follow = editor_client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "cannot be changed" in follow
