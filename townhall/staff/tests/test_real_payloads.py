"""Every real-shaped webhook fixture, received through the real intake, renders for staff."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from townhall.citizens.models import Citizen
from townhall.whatsapp.models import Message
from townhall.whatsapp.signatures import sign
from townhall.whatsapp.tests.payloads import fixture_bytes, fixture_names

APP_SECRET = "simulator-app-secret"
# A number-change notice moves the citizen to the new number and creates nobody for a number
# we never knew: citizens/tests/test_number_change.py covers it.
MESSAGE_FIXTURES = [
    name
    for name in fixture_names()
    if name.startswith("message_") and name != "message_system_changed_number"
]


def receive(client: Client, name: str) -> None:
    body = fixture_bytes(name)
    response = client.post(
        reverse("whatsapp:webhook"),
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=sign(body, APP_SECRET),
    )
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("name", MESSAGE_FIXTURES)
def test_received_message_appears_in_both_logs(
    client: Client, staff_user, django_capture_on_commit_callbacks, name: str
) -> None:
    # given: the webhook is received and the worker tasks run
    with django_capture_on_commit_callbacks(execute=True):
        receive(client, name)
    messages = list(Message.objects.filter(direction="in"))
    client.force_login(staff_user)

    # when / then
    log_html = client.get(reverse("staff:message_log")).content.decode()
    for message in messages:
        citizen = Citizen.objects.get(wa_id=message.wa_id)
        assert citizen.last_inbound_at == message.created_at
        assert message.wa_id not in log_html.replace(f"/messages/{message.wa_id}/", "")
        response = client.get(
            reverse("staff:citizen_log", args=[Citizen.objects.get(wa_id=message.wa_id).pk])
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert f'id="message-{message.pk}"' in html
        if message.text:
            assert escape(message.text.split("\n")[0][:40]) in html
