"""The info channel in Debian's Chromium against the real stack (simulator, web server and
worker as processes on loopback): an editor drafts on a 320 px phone with the live preview and
submits; an approver approves; the post reaches the citizens' phones and the detail page
counts the statuses live, without a reload."""

from __future__ import annotations

import re
import shutil
import time
from typing import Any

import pytest

from townhall.channel.models import Post, PostDelivery
from townhall.channel.tests.factories import approver, editor
from townhall.citizens.actions import do_subscribe_directly
from townhall.citizens.models import Citizen, ConsentRecord, Offering
from townhall.simulator.testing import local_http

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium"),
]

# Every wait in this test is bounded by this (seconds).
WAIT_SECONDS = 25
PHONE_WIDTH = 320
CITIZENS = {
    "4917655501111": "Anna Ampel",
    "4917655502222": "Bernd Bauzaun",
    "4917655503333": "Clara Umleitung",
}
TITLE = "Sperrung Hauptstraße"
TEXT = "Die Hauptstraße ist ab 14 Uhr *gesperrt*. Umleitung über die Ringstraße."


def wait_for(condition: Any, what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {WAIT_SECONDS} s waiting for {what}")
        time.sleep(0.1)


def phone_messages(stack: Any, wa_id: str) -> list[dict[str, Any]]:
    response = local_http.get(f"{stack.simulator_url}/_sim/citizens/{wa_id}/messages", timeout=10)
    if response.status_code == 404:
        return []
    response.raise_for_status()
    return response.json()["messages"]


def subscribe_citizens_who_wrote(stack: Any) -> None:
    """The citizens write to the city (their 24-hour window opens) and are info subscribers."""
    for wa_id, name in CITIZENS.items():
        local_http.post(
            f"{stack.simulator_url}/_sim/citizens/{wa_id}/send",
            json={"name": name, "type": "text", "text": "Hallo"},
            timeout=10,
        ).raise_for_status()
    wait_for(
        lambda: (
            Citizen.objects.filter(wa_id__in=CITIZENS, last_inbound_at__isnull=False).count()
            == len(CITIZENS)
        ),
        "the citizens' first messages",
    )
    for citizen in Citizen.objects.filter(wa_id__in=CITIZENS):
        do_subscribe_directly(
            citizen, [Offering.INFO], channel=ConsentRecord.Channel.WHATSAPP_BUTTON
        )


def log_in(page: Any, url: str, username: str) -> None:
    page.goto(url)
    page.fill("#id_username", username)
    page.fill("#id_password", "x")
    page.click("form .button--primary")
    page.wait_for_url(url)


def has_no_horizontal_scroll(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_editor_drafts_approver_approves_and_progress_updates_live(
    daytime, live_stack, new_page
) -> None:
    # given: slow statuses, so the page has something to count while it is open
    local_http.post(
        f"{live_stack.simulator_url}/_sim/config",
        json={"delivered_delay_seconds": 1.0, "read_delay_seconds": 4.0, "pair_limit_burst": 100},
        timeout=10,
    ).raise_for_status()
    subscribe_citizens_who_wrote(live_stack)
    editor("redaktion")
    approver("pressestelle")
    base = live_stack.web_url

    # when: the editor writes the post on a phone-sized screen
    phone = new_page(timeout_seconds=WAIT_SECONDS, viewport={"width": PHONE_WIDTH, "height": 740})
    log_in(phone, f"{base}/kanal/neu/", "redaktion")
    assert has_no_horizontal_scroll(phone)
    phone.fill("#id_title_de", TITLE)
    phone.fill("#id_text_de", TEXT)

    # then: the preview renders the formatting, and the draft saves itself
    phone.locator('[data-testid="free-text-de"] strong', has_text="gesperrt").wait_for()
    phone.locator('[data-testid="free-text-de"] strong', has_text=TITLE).wait_for()
    phone.locator("#autosave", has_text=re.compile(r"Gespeichert um \d\d:\d\d")).wait_for()
    post = Post.objects.get()
    assert re.search(rf"/kanal/{post.pk}/bearbeiten/$", phone.url)
    phone.locator('[data-testid="audience-total"]', has_text="3").wait_for()
    assert has_no_horizontal_scroll(phone)

    # when: the editor submits it
    phone.click("#submit-for-approval")
    phone.wait_for_url(f"**/kanal/{post.pk}/")
    assert phone.locator("#post-state").inner_text() == "Wartet auf Freigabe"
    assert phone.locator("#approve-post").count() == 0
    assert has_no_horizontal_scroll(phone)
    phone.goto(f"{base}/kanal/")
    assert has_no_horizontal_scroll(phone)
    post.refresh_from_db()
    assert post.state == Post.State.IN_REVIEW
    assert not PostDelivery.objects.exists()

    # when: the approver finds it waiting and approves it
    desk = new_page(timeout_seconds=WAIT_SECONDS)
    log_in(desk, f"{base}/kanal/", "pressestelle")
    desk.locator("#waiting-for-me a", has_text=TITLE).click()
    desk.wait_for_url(f"**/kanal/{post.pk}/")
    desk.fill("#review-comment-text", "Passt so.")
    desk.click("#approve-post")
    desk.wait_for_url(f"**/kanal/{post.pk}/")
    desk.evaluate("window.channelPageMarker = 'still the same page'")
    read_at_first = int(desk.locator('[data-testid="progress-read"]').inner_text())

    # then: the post reaches every citizen's phone, in bold as typed
    for wa_id in CITIZENS:
        wait_for(
            lambda wa_id=wa_id: any(
                message["direction"] == "out" and TITLE in (message["text"] or "")
                for message in phone_messages(live_stack, wa_id)
            ),
            f"the post on {wa_id}'s phone",
        )
    on_phone = next(
        message
        for message in phone_messages(live_stack, next(iter(CITIZENS)))
        if TITLE in (message["text"] or "")
    )
    assert on_phone["text"].startswith(f"*{TITLE}*\n\n{TEXT}")

    # and the detail page counts the statuses live, without a reload
    assert read_at_first < len(CITIZENS)
    desk.locator('[data-testid="progress-read"]', has_text=str(len(CITIZENS))).wait_for(
        timeout=WAIT_SECONDS * 1000
    )
    assert desk.evaluate("window.channelPageMarker") == "still the same page"
    desk.locator("#post-state", has_text="Gesendet").wait_for()
    assert desk.locator('[data-testid="progress-audience"]').inner_text() == str(len(CITIZENS))
    assert desk.locator('[data-testid="progress-failed"]').inner_text() == "0"
    trail = desk.locator("#trail").inner_text()
    assert "Passt so." in trail
    post.refresh_from_db()
    assert post.state == Post.State.SENT
    assert PostDelivery.objects.filter(post=post).count() == len(CITIZENS)

    # and the editor sees the sent post on the phone-sized screen
    phone.goto(f"{base}/kanal/{post.pk}/")
    assert has_no_horizontal_scroll(phone)
