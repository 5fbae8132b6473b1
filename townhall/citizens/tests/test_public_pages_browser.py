"""The citizens' public pages in Debian's Chromium: the QR code shows, choices persist."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from townhall.citizens.actions import (
    do_record_inbound_contact,
    do_set_topics,
    do_subscribe_directly,
)
from townhall.citizens.links import make_token
from townhall.citizens.models import ConsentRecord, Offering
from townhall.citizens.queries import active_offerings, chosen_topic_slugs

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium"),
    # live_server serves from another thread, so the data must be committed.
    pytest.mark.django_db(transaction=True),
]

WA_ID = "4917612345604"
CLICK_TO_CHAT = "https://wa.me/4929321000000?text=START"


@pytest.fixture
def browser(chromium):
    return chromium


def new_page(browser, **options):
    context = browser.new_context(locale="en-GB", timezone_id="Europe/Berlin", **options)
    # Never the internet: anything not served by the live server is refused.
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(("http://localhost", "http://127.0.0.1"))
            else route.abort()
        ),
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def test_subscribe_page_shows_the_qr_code_and_the_link(browser, live_server):
    page = new_page(browser)

    page.goto(live_server.url + reverse("citizens:subscribe"))

    qr = page.locator('[data-testid="subscribe-qr"] svg')
    qr.wait_for(state="visible")
    box = qr.bounding_box()
    assert box is not None
    assert box["width"] > 100
    assert box["height"] == pytest.approx(box["width"])
    assert page.get_attribute('[data-testid="click-to-chat"]', "href") == CLICK_TO_CHAT
    assert page.locator('[data-testid="click-to-chat"]').is_visible()


def test_subscribe_page_fits_a_small_phone(browser, live_server):
    page = new_page(browser, viewport={"width": 320, "height": 640}, is_mobile=True)

    page.goto(live_server.url + reverse("citizens:subscribe"))

    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert page.locator('[data-testid="subscribe-qr"] svg').bounding_box()["width"] <= 320
    button = page.locator('[data-testid="click-to-chat"]').bounding_box()
    assert button["height"] >= 44


def test_topic_choice_is_saved_and_persists(browser, live_server):
    # given an info subscriber with urgent alerts and traffic
    citizen = do_record_inbound_contact(WA_ID, "Klaus Becker", datetime(2025, 3, 14, tzinfo=UTC))
    button = ConsentRecord.Channel.WHATSAPP_BUTTON
    do_subscribe_directly(citizen, [Offering.INFO], channel=button)
    do_set_topics(citizen, ["dringend", "verkehr"], channel=button)
    url = live_server.url + reverse(
        "citizens:preferences", args=[make_token(citizen, "preferences")]
    )
    page = new_page(browser)
    page.goto(url)
    assert page.is_checked('input[name="topics"][value="verkehr"]')

    # when the citizen swaps traffic for events and saves
    topics = page.get_by_role("group", name="Topics of the info channel")
    topics.get_by_label("Traffic & roadworks").uncheck()
    topics.get_by_label("Events").check()
    page.click('[data-testid="save"]')

    # then
    flash = page.locator('[data-testid="flash"]')
    flash.wait_for()
    assert flash.inner_text() == "Your settings have been saved."
    assert page.url == url
    page.reload()
    assert page.is_checked('input[name="topics"][value="dringend"]')
    assert page.is_checked('input[name="topics"][value="veranstaltungen"]')
    assert not page.is_checked('input[name="topics"][value="verkehr"]')
    assert page.locator('[data-testid="flash"]').count() == 0
    assert chosen_topic_slugs(citizen) == {"dringend", "veranstaltungen"}
    assert active_offerings(citizen) == {"info"}
    assert WA_ID not in page.content()
