"""The browser phone in Chromium: a business button message appears and a tap on it
reaches the webhook receiver as a signed ``button_reply``."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from townhall.core.processes import launch_chromium
from townhall.simulator.testing import SimulatorProcess, WebhookReceiver, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ANNA = "4915112345601"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # A phone-sized viewport, as the page is meant to work on one.
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="de-DE")
    page = context.new_page()
    page.set_default_timeout(10_000)
    # The simulator's pages carry Townhall's strict policy: nothing on them may break it.
    page.add_init_script(
        "window.violations = [];"
        "document.addEventListener('securitypolicyviolation', event =>"
        " window.violations.push(event.violatedDirective + ' ' + event.blockedURI));"
    )
    yield page
    violations = page.evaluate("window.violations")
    context.close()
    assert violations == []


def test_tapping_a_reply_button_sends_a_signed_button_reply(
    running_simulator: SimulatorProcess, webhook_receiver: WebhookReceiver, page: Page
) -> None:
    # given: Anna wrote, so the service window is open, and her phone is on screen
    running_simulator.control(
        "POST", f"/_sim/citizens/{ANNA}/send", {"type": "text", "text": "Hallo", "name": "Anna"}
    )
    page.goto(f"{running_simulator.base_url}/phone/{ANNA}/")
    expect(page.get_by_role("heading", name="Stadt Musterstadt")).to_be_visible()

    # when: the city sends three reply buttons through the Graph API
    response = running_simulator.send(
        {
            "messaging_product": "whatsapp",
            "to": ANNA,
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Wie zufrieden sind Sie mit der Antwort?"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": "zufrieden", "title": "Zufrieden"}},
                        {"type": "reply", "reply": {"id": "teils", "title": "Teils, teils"}},
                        {"type": "reply", "reply": {"id": "unzufrieden", "title": "Unzufrieden"}},
                    ]
                },
            },
        }
    )
    assert response.status_code == 200
    wamid = response.json()["messages"][0]["id"]
    row = page.locator(".message-row", has=page.locator(f'[data-message-id="{wamid}"]'))
    expect(row.get_by_text("Wie zufrieden sind Sie mit der Antwort?")).to_be_visible()
    expect(row.get_by_role("button", name="Teils, teils")).to_be_visible()
    expect(row.locator(".bubble-buttons button")).to_have_count(3)
    row.get_by_role("button", name="Teils, teils").click()

    # then: the receiver gets a signed Meta-shaped button_reply answering that message
    def button_replies() -> list[dict]:
        return [
            message
            for webhook in webhook_receiver.accepted()
            if webhook.is_signature_valid
            for message in webhook.messages()
            if message["type"] == "interactive"
        ]

    (reply,) = wait_for(button_replies)
    assert reply["from"] == ANNA
    assert reply["interactive"] == {
        "type": "button_reply",
        "button_reply": {"id": "teils", "title": "Teils, teils"},
    }
    assert reply["context"] == {"from": "4929321000000", "id": wamid}
    expect(row.get_by_role("button", name="✓ Teils, teils")).to_be_disabled()
    expect(page.locator(".message-row.citizen").last).to_contain_text("Teils, teils")


def test_typing_and_pressing_enter_sends_a_text(
    running_simulator: SimulatorProcess, webhook_receiver: WebhookReceiver, page: Page
) -> None:
    # given
    running_simulator.control("POST", "/_sim/citizens", {"wa_id": ANNA, "name": "Anna"})
    page.goto(f"{running_simulator.base_url}/phone/{ANNA}/")
    # when
    field = page.get_by_label("Nachricht")
    field.fill("Die Ampel am Markt ist *aus*")
    field.press("Enter")

    # then
    def texts() -> list[dict]:
        return [
            message
            for webhook in webhook_receiver.accepted()
            if webhook.is_signature_valid
            for message in webhook.messages()
            if message["type"] == "text"
        ]

    (message,) = wait_for(texts)
    assert message["text"] == {"body": "Die Ampel am Markt ist *aus*"}
    expect(page.locator(".message-row.citizen strong")).to_have_text("aus")
    expect(field).to_have_value("")
