"""The message log page in Debian's Chromium: statuses update live."""

from __future__ import annotations

import copy
import shutil
from datetime import timedelta
from typing import Any

import orjson
import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from townhall.citizens.actions import do_subscribe_directly
from townhall.citizens.models import Citizen, ConsentRecord, Offering
from townhall.whatsapp.models import Message
from townhall.whatsapp.signatures import sign
from townhall.whatsapp.tests.factories import make_citizen, make_inbound, make_outbound
from townhall.whatsapp.tests.payloads import load_fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium"),
]

APP_SECRET = "simulator-app-secret"
PASSWORD = "Rathaus-Test-2025"
WA_ID = "4917612345604"


@pytest.fixture
def page(live_server, new_page) -> Any:
    return new_page()


def log_in(page, live_server) -> None:
    User.objects.create_user("sachbearbeitung", password=PASSWORD, is_staff=True).groups.add(
        Group.objects.get(name="Büro")
    )
    page.goto(
        live_server.url + reverse("staff:citizen_log", args=[Citizen.objects.get(wa_id=WA_ID).pk])
    )
    page.fill("#id_username", "sachbearbeitung")
    page.fill("#id_password", PASSWORD)
    page.click("form .button--primary")
    page.wait_for_url(
        f"**{reverse('staff:citizen_log', args=[Citizen.objects.get(wa_id=WA_ID).pk])}"
    )


def post_status_webhook(message: Message, status: str) -> None:
    payload = copy.deepcopy(load_fixture("status_delivered"))
    item = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    item.update(
        id=message.provider_id,
        status=status,
        recipient_id=message.wa_id,
        timestamp=str(int(timezone.now().timestamp())),
    )
    body = orjson.dumps(payload)
    response = Client().post(
        reverse("whatsapp:webhook"),
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=sign(body, APP_SECRET),
    )
    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_ticks_update_live_and_open_details_stay_open(page, live_server) -> None:
    # given: a reply that WhatsApp has accepted ("sent")
    citizen = make_citizen(WA_ID, "Klaus Becker", timezone.now() - timedelta(minutes=5))
    do_subscribe_directly(citizen, [Offering.CHAT], channel=ConsentRecord.Channel.WHATSAPP_BUTTON)
    make_inbound(citizen, "Die Laterne ist kaputt.", at=timezone.now() - timedelta(minutes=5))
    message = make_outbound(
        citizen, "Danke, wir kümmern uns darum.", at=timezone.now(), statuses=("sent",)
    )
    log_in(page, live_server)
    page.locator(f"#message-{message.pk} .ticks--sent").wait_for()

    # when: the status history is open and WhatsApp reports delivery
    # A history poll may swap the bubble just as it is clicked; click until it is open.
    opened = page.locator(f"#message-{message.pk} details[open]")
    for _attempt in range(5):
        if opened.count() == 0:  # a second click would close what the first one opened
            page.locator(f"#message-{message.pk} summary").click()
        try:
            opened.wait_for(timeout=2_000)
            break
        except PlaywrightTimeoutError:
            continue
    # Seen by the page after each change of the DOM: was the history ever shown with these
    # details closed? (A check after the swap alone would miss a short-lived closed state.)
    page.evaluate(
        """key => {
            window.detailsShownClosed = false;
            new MutationObserver(() => {
                const details = document.querySelector(`details[data-details-key="${key}"]`);
                if (details && !details.open) window.detailsShownClosed = true;
            }).observe(document.body, {childList: true, subtree: true});
        }""",
        str(message.pk),
    )
    post_status_webhook(message, "delivered")

    # then: within a poll the ticks change and the opened details stay open throughout
    page.locator(f"#message-{message.pk} .ticks--delivered").wait_for(timeout=8_000)
    details = page.locator(f"#message-{message.pk} details.status-history")
    assert details.get_attribute("open") is not None
    assert page.evaluate("window.detailsShownClosed") is False
    assert "Zugestellt" in details.inner_text()
