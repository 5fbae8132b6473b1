"""Sharing a post: the WhatsApp share link, the invitation with the post's referral code
(counted when the sign-up completes), and the link-open counter of the public page."""

from __future__ import annotations

import html as html_module
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import segno
from django.conf import settings
from django.test import Client

from townhall.channel.models import PostLinkOpen
from townhall.channel.report import post_report, signups_for
from townhall.channel.tests.archive_factories import make_post
from townhall.citizens.keywords import referral_code
from townhall.citizens.models import ConsentRecord, Subscription
from townhall.core import clock

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
WHATSAPP_PREVIEW = "WhatsApp/2.24.6.77 A"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def links(html: str) -> dict[str, str]:
    return {
        testid: html_module.unescape(href)
        for href, testid in re.findall(r'href="([^"]+)"[^>]*data-testid="([a-z-]+)"', html)
    }


@pytest.mark.django_db
def test_the_public_page_offers_sharing_and_an_invitation_with_the_posts_code(client: Client):
    post = make_post("Sperrung Bahnhofstraße", "Am Samstag gesperrt.")

    response = client.get(f"/p/{post.public_id}/", HTTP_USER_AGENT=BROWSER)

    html = response.content.decode()
    found = links(html)
    share = urlsplit(found["share-link"])
    assert (share.netloc, share.path) == ("wa.me", "/")
    assert parse_qs(share.query)["text"] == [
        f"Sperrung Bahnhofstraße {settings.PUBLIC_BASE_URL}/p/{post.public_id}/"
    ]
    invitation = urlsplit(found["invitation-link"])
    city = re.sub(r"\D", "", settings.WHATSAPP["DISPLAY_PHONE_NUMBER"])
    assert (invitation.netloc, invitation.path) == ("wa.me", f"/{city}")
    (typed,) = parse_qs(invitation.query)["text"]
    assert typed == f"START {post.referral_code}"
    # The bot reads back exactly the post's code from what the link types in.
    assert referral_code(typed) == post.referral_code
    # The QR code is drawn here (no request to another host) and encodes the same link.
    expected_qr = segno.make(found["invitation-link"], error="m").svg_inline(scale=6)
    expected_path = re.search(r' d="([^"]+)"', expected_qr).group(1)
    assert f' d="{expected_path}"' in html
    assert "<script" not in html
    assert "Set-Cookie" not in response.headers


@pytest.mark.django_db
def test_link_opens_are_counted_per_day_without_bots_head_requests_or_personal_data(
    client: Client, time_machine
):
    post = make_post()
    other = make_post("Anderes Thema")
    url = f"/p/{post.public_id}/"

    client.get(url, HTTP_USER_AGENT=BROWSER)
    client.get(url, HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="203.0.113.9")
    client.get(url, HTTP_USER_AGENT=WHATSAPP_PREVIEW)  # the chat's link preview
    client.get(url, HTTP_USER_AGENT=GOOGLEBOT)
    client.get(url, HTTP_USER_AGENT="curl/8.5.0")
    client.get(url)  # no user agent
    client.head(url, HTTP_USER_AGENT=BROWSER)
    client.get(f"/p/{other.public_id}/", HTTP_USER_AGENT=BROWSER)
    time_machine.move_to(clock.now() + timedelta(days=1))
    client.get(url, HTTP_USER_AGENT=BROWSER)

    rows = list(
        PostLinkOpen.objects.filter(post=post).order_by("day").values_list("count", flat=True)
    )
    assert rows == [2, 1]
    assert post_report(post).link_opens == 3
    assert post_report(other).link_opens == 1
    # A counter only: post, day, count.
    assert {field.name for field in PostLinkOpen._meta.get_fields()} == {
        "id",
        "post",
        "day",
        "count",
    }


def text(body: str) -> dict:
    return {"type": "text", "text": {"body": body}}


def button(button_id: str) -> dict:
    return {
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": button_id, "title": "x"}},
    }


@pytest.mark.django_db
def test_a_sign_up_from_a_shared_posts_invitation_is_counted_for_that_post(deliver_inbound):
    post = make_post()
    other = make_post("Anderer Beitrag")
    invited, walk_in = "4915112349001", "4915112349002"

    # when: a citizen sends what the invitation typed in, and agrees
    question = deliver_inbound(text(f"START {post.referral_code}"), wa_id=invited, name="Eva")
    assert [b["reply"]["id"] for b in question[0]["interactive"]["action"]["buttons"]] == [
        "consent:yes",
        "consent:under16",
        "consent:no",
    ]
    assert signups_for(post) == 0  # asked, not yet agreed
    deliver_inbound(button("consent:yes"), wa_id=invited, name="Eva")
    # and: another citizen subscribes the usual way
    deliver_inbound(text("Start"), wa_id=walk_in, name="Max")
    deliver_inbound(button("offer:info"), wa_id=walk_in, name="Max")
    deliver_inbound(button("consent:yes"), wa_id=walk_in, name="Max")

    # then
    assert Subscription.objects.filter(state="active", offering="info").count() == 2
    assert (signups_for(post), signups_for(other)) == (1, 0)
    assert post_report(post).signups == 1
    granted = ConsentRecord.objects.filter(kind="granted").order_by("pk")
    assert [record.referral_code for record in granted] == [post.referral_code, ""]


@pytest.mark.django_db
def test_start_with_an_ordinary_word_is_no_referral_code(deliver_inbound):
    assert referral_code("Start jetzt") is None
    assert referral_code("START ABCDEF") is None  # codes always have a digit
    welcome = deliver_inbound(text("Start"), wa_id="4915112349003", name="Ina")[0]
    assert [b["reply"]["id"] for b in welcome["interactive"]["action"]["buttons"]] == [
        "offer:info",
        "offer:chat",
        "offer:both",
    ]
