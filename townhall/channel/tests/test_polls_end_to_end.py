"""Acceptance of polls, end to end over the real simulator, web server and worker: 200
citizens answer a five-option poll from their phones (open windows by list, closed ones by
the template's quick replies), some change their answer, some tap after closing; the staff
results page (Debian's Chromium) counts live without a reload and the CSV matches."""

from __future__ import annotations

import csv
import io
import re
import shutil
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest

from townhall.channel.actions import PollDraft, do_publish_post
from townhall.channel.models import PollAnswer, Post, PostDelivery
from townhall.channel.poll_actions import do_close_poll, do_send_poll_results
from townhall.channel.progress import post_progress
from townhall.channel.tests.factories import approver, citizens, topics
from townhall.channel.tests.test_polls import FIVE, poll_template, seed_template
from townhall.citizens.actions import do_subscribe_directly
from townhall.citizens.models import Citizen, ConsentRecord, Offering
from townhall.core import clock
from townhall.inbox.models import Conversation

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium"),
]

CITIZENS = 200
OPEN_WINDOW = 80  # the first 80 wrote to the city just before: list replies
LATE = 20  # the last 20 tap only after the poll closed
WAIT_SECONDS = 120


def thread(client: httpx.Client, wa_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/_sim/citizens/{wa_id}/messages")
    response.raise_for_status()
    return response.json()["messages"]


def send(client: httpx.Client, wa_id: str, action: dict[str, Any]) -> None:
    client.post(f"/_sim/citizens/{wa_id}/send", json=action).raise_for_status()


def answer(client: httpx.Client, wa_id: str, message: dict[str, Any], position: int, poll_id):
    """The citizen taps option ``position`` on the poll message (list row or quick reply)."""
    if message["type"] == "template":
        send(client, wa_id, {"type": "button", "message_id": message["id"], "index": position - 1})
    else:
        row = f"poll:{poll_id}:{position}"
        send(client, wa_id, {"type": "list_reply", "message_id": message["id"], "row_id": row})


def test_two_hundred_citizens_answer_a_poll_and_the_results_page_counts_live(
    daytime, live_stack, new_page, wait
):
    sim = httpx.Client(base_url=live_stack.simulator_url, timeout=10)
    poll_template(5)
    people = citizens(CITIZENS, topic_slugs=["verkehr"])
    Citizen.objects.update(last_inbound_at=clock.now() - timedelta(days=3))
    # Some of the closed-window citizens also chat with the office: their taps must not
    # open a conversation.
    for citizen in people[OPEN_WINDOW : OPEN_WINDOW + 10]:
        do_subscribe_directly(
            citizen, [Offering.CHAT], channel=ConsentRecord.Channel.WHATSAPP_BUTTON
        )
    since = clock.now() - timedelta(minutes=1)
    for citizen in people[:OPEN_WINDOW]:
        send(sim, citizen.wa_id, {"type": "text", "text": "Hallo"})
    wait(
        lambda: Citizen.objects.filter(last_inbound_at__gte=since).count() == OPEN_WINDOW,
        timeout=WAIT_SECONDS,
        what="the open windows recorded",
    )

    # when: the poll goes out
    post = do_publish_post(
        kind=Post.Kind.NORMAL,
        topics=topics("verkehr"),
        versions={"de": ("Stadtpark", "Wir gestalten den Stadtpark neu.")},
        poll=PollDraft("Was wünschen Sie sich?", FIVE),
    )
    poll = post.poll
    wait(
        lambda: post_progress(post).handed_over == CITIZENS,
        timeout=WAIT_SECONDS,
        what="the poll handed over to all 200",
    )
    provider_ids = set(
        PostDelivery.objects.filter(post=post).values_list("message__provider_id", flat=True)
    )
    on_phone: dict[str, dict[str, Any]] = {}
    for citizen in people:
        (message,) = [m for m in thread(sim, citizen.wa_id) if m["id"] in provider_ids]
        on_phone[citizen.wa_id] = message
    kinds = Counter(m["type"] for m in on_phone.values())
    assert kinds == {"interactive": OPEN_WINDOW, "template": CITIZENS - OPEN_WINDOW}

    # and: the staff member opens the results page before anyone answered
    approver("pressestelle")
    page = new_page(timeout_seconds=WAIT_SECONDS)
    page.goto(f"{live_stack.web_url}/kanal/{post.pk}/umfrage/")
    page.fill("#id_username", "pressestelle")
    page.fill("#id_password", "x")
    page.click("form .button--primary")
    page.wait_for_url(f"**/kanal/{post.pk}/umfrage/")
    assert page.locator('[data-testid="poll-total"]').inner_text() == "0"
    page.evaluate("window.pollPageMarker = 'still the same page'")

    # when: 180 answer (first choice by position), every seventh changes their mind
    expected: dict[str, int] = {}
    changers = 0
    for index, citizen in enumerate(people[: CITIZENS - LATE]):
        first = index % 5 + 1
        answer(sim, citizen.wa_id, on_phone[citizen.wa_id], first, poll.pk)
        expected[citizen.wa_id] = first
    time.sleep(1.1)  # a change comes at least a second later (WhatsApp's timestamps)
    for index, citizen in enumerate(people[: CITIZENS - LATE]):
        if index % 7 == 0:
            second = (index + 2) % 5 + 1
            answer(sim, citizen.wa_id, on_phone[citizen.wa_id], second, poll.pk)
            expected[citizen.wa_id] = second
            changers += 1
    counts = Counter(expected.values())

    # then: the database holds one answer each, the later one
    def recorded() -> bool:
        answers = PollAnswer.objects.filter(poll=poll)
        return answers.count() == len(expected) and (answers.filter(changes=1).count() == changers)

    wait(recorded, timeout=WAIT_SECONDS, what="180 answers and the changes recorded")
    stored = dict(
        PollAnswer.objects.filter(poll=poll).values_list("citizen__wa_id", "option__position")
    )
    assert stored == expected

    # and: the page shows the exact counts, live, without a reload. The changes' net effect
    # on the counts equals that of the first change alone, so only the number of changed
    # answers tells the final refresh from an earlier one: wait for it, then read the rest.
    page.locator('[data-testid="poll-changed"]', has_text=re.compile(rf"^{changers}$")).wait_for()
    assert page.locator('[data-testid="poll-total"]').inner_text() == str(len(expected))
    for position in range(1, 6):
        percent = round(100 * counts[position] / len(expected))
        assert page.locator(f'[data-testid="poll-count-{position}"]').inner_text() == str(
            counts[position]
        )
        assert page.locator(f'[data-testid="poll-percent-{position}"]').inner_text() == (
            f"{percent} %"
        )
    assert page.evaluate("window.pollPageMarker") == "still the same page"

    # when: the poll is closed, 20 tap for the first time and 2 try to change their answer
    page.click("#close-poll")
    page.locator("#poll-results[data-closed='true']").wait_for()
    time.sleep(1.5)  # WhatsApp's timestamps have whole seconds
    late = people[CITIZENS - LATE :]
    for citizen in late:
        answer(sim, citizen.wa_id, on_phone[citizen.wa_id], 1, poll.pk)
    for citizen in people[1:3]:
        answer(sim, citizen.wa_id, on_phone[citizen.wa_id], 5, poll.pk)

    # then: each gets the polite "closed" line; nothing changes
    def told_closed(wa_id: str) -> bool:
        return any(
            m["direction"] == "out" and "Umfrage ist leider beendet" in (m["text"] or "")
            for m in thread(sim, wa_id)
        )

    for citizen in [*late, *people[1:3]]:
        wait(lambda wa_id=citizen.wa_id: told_closed(wa_id), timeout=WAIT_SECONDS, what="closed")
    stored = dict(
        PollAnswer.objects.filter(poll=poll).values_list("citizen__wa_id", "option__position")
    )
    assert stored == expected
    page.reload()
    assert page.locator('[data-testid="poll-total"]').inner_text() == str(len(expected))
    for position in range(1, 6):
        count = page.locator(f'[data-testid="poll-count-{position}"]').inner_text()
        assert count == str(counts[position])

    # and: the bot confirmed votes and changes in one line each
    first_citizen = thread(sim, people[0].wa_id)
    lines = [m["text"] for m in first_citizen if m["direction"] == "out" and m["type"] == "text"]
    assert f"Danke! Ihre Stimme für „{FIVE[0]}“ ist gezählt." in lines
    assert f"Ihre Stimme ist jetzt „{FIVE[2]}“." in lines

    # and: the CSV matches, without phone numbers
    response = page.request.get(f"{live_stack.web_url}/kanal/{post.pk}/umfrage/antworten.csv")
    assert response.status == 200
    content = response.text()
    rows = list(csv.DictReader(io.StringIO(content)))
    assert Counter(int(row["option_number"]) for row in rows) == counts
    assert sum(int(row["changes"]) for row in rows) == changers
    assert {row["language"] for row in rows} == {"de"}
    assert not any(citizen.wa_id in content for citizen in people)

    # and: no answer opened an inbox conversation
    assert not Conversation.objects.exists()


@pytest.mark.e2e
def test_english_citizens_answer_the_english_poll_and_read_everything_in_english(
    daytime, live_stack, wait
):
    """English citizens get the poll in English over the real stack: buttons, template,
    confirmations and results (the third answer has no English title: German)."""
    sim = httpx.Client(base_url=live_stack.simulator_url, timeout=10)
    poll_template(3)
    poll_template(3, "en")
    seed_template("info_kanal_umfrage_ergebnis", "en")
    sam, kim = citizens(2, topic_slugs=["verkehr"], language="en")
    anna = citizens(1, topic_slugs=["verkehr"])[0]
    Citizen.objects.update(last_inbound_at=clock.now() - timedelta(days=3))
    since = clock.now() - timedelta(minutes=1)
    for citizen in (sam, anna):
        send(sim, citizen.wa_id, {"type": "text", "text": "Hallo"})
    wait(
        lambda: Citizen.objects.filter(last_inbound_at__gte=since).count() == 2,
        timeout=WAIT_SECONDS,
        what="the open windows recorded",
    )

    # when: a poll with English texts (the third answer left German) goes out
    post = do_publish_post(
        kind=Post.Kind.NORMAL,
        topics=topics("verkehr"),
        versions={
            "de": ("Stadtpark", "Wir gestalten den Stadtpark neu."),
            "en": ("City park", "We redesign the city park."),
        },
        poll=PollDraft(
            "Was wünschen Sie sich?",
            ["Radweg", "Spielplatz", "Bäume"],
            question_en="What would you like?",
            options_en=["Cycle path", "Playground", ""],
        ),
    )
    poll = post.poll
    wait(lambda: post_progress(post).handed_over == 3, timeout=WAIT_SECONDS, what="handed over")
    provider_ids = set(
        PostDelivery.objects.filter(post=post).values_list("message__provider_id", flat=True)
    )

    def poll_message(wa_id: str) -> dict[str, Any]:
        (message,) = [m for m in thread(sim, wa_id) if m["id"] in provider_ids]
        return message

    # then: Sam's phone shows English buttons, Kim's the English template, Anna's German ones
    on_sam, on_kim, on_anna = (poll_message(c.wa_id) for c in (sam, kim, anna))
    assert [(o["id"], o["title"]) for o in on_sam["options"]] == [
        (f"poll:{poll.pk}:1", "Cycle path"),
        (f"poll:{poll.pk}:2", "Playground"),
        (f"poll:{poll.pk}:3", "Bäume"),
    ]
    assert "*What would you like?*" in on_sam["content"]["body"]["text"]
    assert [o["title"] for o in on_anna["options"]] == ["Radweg", "Spielplatz", "Bäume"]
    assert on_kim["template"]["language"] == "en"
    assert "What would you like?" in on_kim["template"]["body"]
    assert "1 = Cycle path · 2 = Playground · 3 = Bäume" in on_kim["template"]["body"]

    # when: Sam taps a button, Kim a quick reply, Anna the same option as Sam
    sam_row = f"poll:{poll.pk}:1"
    send(sim, sam.wa_id, {"type": "button_reply", "message_id": on_sam["id"], "button_id": sam_row})
    send(sim, kim.wa_id, {"type": "button", "message_id": on_kim["id"], "index": 2})
    anna_row = f"poll:{poll.pk}:1"
    send(
        sim,
        anna.wa_id,
        {"type": "button_reply", "message_id": on_anna["id"], "button_id": anna_row},
    )

    # then: each reads the confirmation with the option as they saw it; votes count per option
    def replies(wa_id: str) -> list[str]:
        return [
            m["text"] or ""
            for m in thread(sim, wa_id)
            if m["direction"] == "out" and m["type"] == "text"
        ]

    expected_lines = {
        sam.wa_id: "Thank you! Your vote for “Cycle path” is counted.",
        kim.wa_id: "Thank you! Your vote for “Bäume” is counted.",
        anna.wa_id: "Danke! Ihre Stimme für „Radweg“ ist gezählt.",
    }
    for wa_id, line in expected_lines.items():
        wait(lambda wa_id=wa_id, line=line: line in replies(wa_id), timeout=WAIT_SECONDS, what=line)
    assert sorted(
        PollAnswer.objects.filter(poll=poll).values_list("option__position", "language")
    ) == [(1, "de"), (1, "en"), (3, "en")]

    # when: the poll is closed and its results sent, Kim's window having closed meanwhile
    Citizen.objects.filter(pk=kim.pk).update(last_inbound_at=clock.now() - timedelta(days=2))
    boss = approver()
    post.refresh_from_db()
    do_close_poll(post, actor=boss)
    outcome = do_send_poll_results(post, actor=boss)

    # then: Sam reads them as text in English, Kim as the English results template
    assert (outcome.queued, outcome.skipped) == (3, 0)
    sam_results = (
        "*Results of the poll: What would you like?*\n\n"
        "3 answers: Cycle path 67 % (2) · Playground 0 % (0) · Bäume 33 % (1)"
    )
    wait(lambda: sam_results in replies(sam.wa_id), timeout=WAIT_SECONDS, what="Sam's results")

    def kim_results() -> bool:
        return any(
            m["template"] is not None
            and m["template"]["name"] == "info_kanal_umfrage_ergebnis"
            and "What would you like?" in m["template"]["body"]
            and "Cycle path 67 % (2)" in m["template"]["body"]
            for m in thread(sim, kim.wa_id)
        )

    wait(kim_results, timeout=WAIT_SECONDS, what="Kim's results template")
