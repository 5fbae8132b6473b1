"""Polls: how a poll goes out (buttons, list, template with quick replies), how the bot
records answers through the real intake path (one per citizen, changes, closed polls), the
staff results page, the CSV and the results to the participants."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from townhall.channel.actions import (
    PollDraft,
    PollRefused,
    PostActionRefused,
    check_poll,
    do_approve,
    do_fan_out_post,
    do_publish_post,
    do_save_draft,
)
from townhall.channel.models import Poll, PollAnswer, Post, PostDelivery
from townhall.channel.poll_actions import do_close_poll, do_reopen_poll, do_send_poll_results
from townhall.channel.poll_queries import citizen_poll_export
from townhall.channel.tests.factories import approved_template, approver, citizens, staff, topics
from townhall.citizens.actions import do_subscribe_directly
from townhall.citizens.models import Citizen, ConsentRecord, Offering
from townhall.core import clock
from townhall.inbox.models import Conversation
from townhall.simulator import message_templates as simulator_templates
from townhall.whatsapp.models import Message, MessageTemplate
from townhall.whatsapp.templates import check_template

pytestmark = pytest.mark.django_db

FIVE = ["Radweg", "Spielplatz", "Parkplätze", "Bäume", "Bänke"]


def poll_template(count: int, language: str = "de") -> MessageTemplate:
    """The seed's poll template for ``count`` options, approved."""
    return seed_template(f"info_kanal_umfrage_{count}", language)


def seed_template(name: str, language: str) -> MessageTemplate:
    """A template of the simulator's seed (a poll or the results template), approved."""
    seed = next(
        t
        for t in json.loads(Path(simulator_templates.__file__).with_suffix(".json").read_text())
        if t["name"] == name and t["language"] == language
    )
    defaults = {
        "body": seed["body"],
        "body_examples": seed.get("body_examples", []),
        "footer": seed.get("footer", ""),
        "buttons": seed.get("buttons", []),
        "status": MessageTemplate.Status.APPROVED,
    }
    # In end-to-end tests the worker's template sync may import it from the simulator at
    # the same moment: either way it is there, approved, as the simulator has it.
    try:
        with transaction.atomic():
            template, _created = MessageTemplate.objects.update_or_create(
                name=seed["name"], language=language, defaults=defaults
            )
    except IntegrityError:
        template, _created = MessageTemplate.objects.update_or_create(
            name=seed["name"], language=language, defaults=defaults
        )
    return template


def poll_post(options: list[str], *, closes_at=None) -> Post:
    return do_publish_post(
        kind=Post.Kind.URGENT,
        topics=topics("verkehr"),
        versions={
            "de": ("Stadtpark", "Wir gestalten den Stadtpark neu."),
            "en": ("City park", "We redesign the city park."),
        },
        poll=PollDraft("Was wünschen Sie sich?", options, closes_at),
    )


def tap(poll: Poll, position: int) -> dict:
    return {
        "type": "interactive",
        "interactive": {
            "type": "list_reply",
            "list_reply": {"id": f"poll:{poll.pk}:{position}", "title": "x"},
        },
    }


def quick_reply(poll: Poll, position: int) -> dict:
    return {"type": "button", "button": {"payload": f"poll:{poll.pk}:{position}", "text": "x"}}


def texts(sent: list[dict]) -> list[str]:
    return [body["text"]["body"] for body in sent if body["type"] == "text"]


def test_the_seed_poll_templates_keep_metas_rules():
    for count in range(2, 11):
        for language in ("de", "en"):
            template = poll_template(count, language)
            assert check_template(template) == []
            assert [b["text"] for b in template.buttons] == [str(i) for i in range(1, count + 1)]


def test_a_poll_goes_as_buttons_a_list_or_the_poll_template_by_the_rule(daytime, settings):
    settings.PUBLIC_BASE_URL = "https://townhall.musterstadt.de"
    poll_template(5)
    poll_template(5, "en")
    poll_template(3)
    open_de = citizens(1, topic_slugs=["verkehr"], window_open=True)[0]
    open_en = citizens(1, topic_slugs=["verkehr"], window_open=True, language="en")[0]
    closed_en = citizens(1, topic_slugs=["verkehr"], language="en")[0]

    # when: a post with five options goes out
    five = poll_post(FIVE, closes_at=clock.now() + timedelta(days=2))
    do_fan_out_post(five.pk)

    # then: open windows get a list in their language, closed ones the template
    by_citizen = {
        d.citizen_id: d.message.payload
        for d in PostDelivery.objects.filter(post=five).select_related("message")
    }
    poll = five.poll
    listed = by_citizen[open_de.pk]["interactive"]
    assert listed["type"] == "list"
    assert listed["action"]["button"] == "Antwort wählen"
    rows = listed["action"]["sections"][0]["rows"]
    assert [(r["id"], r["title"]) for r in rows] == [
        (f"poll:{poll.pk}:{i}", title) for i, title in enumerate(FIVE, start=1)
    ]
    assert listed["body"]["text"].startswith("*Stadtpark*\n\nWir gestalten den Stadtpark neu.")
    assert listed["body"]["text"].endswith("*Was wünschen Sie sich?*")
    assert listed["footer"]["text"].startswith("Offen bis ")
    assert by_citizen[open_en.pk]["interactive"]["action"]["button"] == "Choose an answer"
    template = by_citizen[closed_en.pk]["template"]
    assert (template["name"], template["language"]["code"]) == ("info_kanal_umfrage_5", "en")
    body = next(c for c in template["components"] if c["type"] == "body")["parameters"]
    assert [p["text"] for p in body] == [
        "City park",
        "We redesign the city park.",
        "Was wünschen Sie sich?",
        "1 = Radweg · 2 = Spielplatz · 3 = Parkplätze · 4 = Bäume · 5 = Bänke",
        f"https://townhall.musterstadt.de/p/{five.public_id}/",
    ]
    payloads = [
        (c["index"], c["parameters"][0]["payload"])
        for c in template["components"]
        if c["type"] == "button"
    ]
    assert payloads == [(str(i - 1), f"poll:{poll.pk}:{i}") for i in range(1, 6)]

    # when: a post with three options goes out, it is reply buttons
    three = poll_post(["Ja", "Nein", "Egal"])
    do_fan_out_post(three.pk)
    buttons = PostDelivery.objects.get(post=three, citizen=open_de).message.payload["interactive"]
    assert buttons["type"] == "button"
    assert [b["reply"]["title"] for b in buttons["action"]["buttons"]] == ["Ja", "Nein", "Egal"]
    assert "footer" not in buttons


def test_without_a_poll_template_closed_windows_are_skipped_and_counted(daytime):
    citizens(2, topic_slugs=["verkehr"])
    citizens(1, topic_slugs=["verkehr"], window_open=True)
    # the post names a template, but a poll needs the poll template of its size
    approved_template()

    post = poll_post(FIVE)
    do_fan_out_post(post.pk)

    post.refresh_from_db()
    assert post.skipped_without_template == 2
    assert PostDelivery.objects.filter(post=post).count() == 1


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (["Nur eine"], "2 bis 10 Antworten"),
        ([str(i) for i in range(11)], "2 bis 10 Antworten"),
        (["Ja", "Eine viel zu lange Antwort"], "höchstens 20"),
        (["Ja", "Nein", "Eine viel zu lange Antwort, fürwahr"], "höchstens 20"),
        (["a", "b", "c", "Eine sehr lange Listenantwort"], "höchstens 24"),
        (["Ja", "ja"], "anders lauten"),
    ],
)
def test_a_poll_that_breaks_whatsapps_limits_is_refused(options, problem):
    with pytest.raises(PostActionRefused, match=problem):
        check_poll(PollDraft("Frage?", options))


def test_four_options_of_up_to_24_characters_fit_a_list():
    poll = check_poll(PollDraft(" Frage? ", ["a", "b", "c", "Vierundzwanzig Zeichen!!", ""]))
    assert poll.options == ["a", "b", "c", "Vierundzwanzig Zeichen!!"]
    assert poll.question == "Frage?"


@pytest.fixture
def delivered_poll(daytime):
    """A five-option poll delivered to two German and one English citizen; one German one
    also has the chat with the office."""
    poll_template(5)
    german = citizens(2, topic_slugs=["verkehr"], window_open=True)
    english = citizens(1, topic_slugs=["verkehr"], window_open=True, language="en")
    do_subscribe_directly(german[0], [Offering.CHAT], channel=ConsentRecord.Channel.WHATSAPP_BUTTON)
    post = poll_post(FIVE)
    do_fan_out_post(post.pk)
    return post, german, english


def test_one_answer_per_citizen_a_later_tap_changes_it_and_the_bot_confirms(
    delivered_poll, deliver_inbound
):
    post, german, english = delivered_poll
    poll = post.poll
    anna = german[0]

    # when: Anna picks a list row, then changes her mind on the template's quick reply
    first = deliver_inbound(tap(poll, 2), wa_id=anna.wa_id, name="Anna")
    second = deliver_inbound(quick_reply(poll, 4), wa_id=anna.wa_id, name="Anna")
    english_reply = deliver_inbound(tap(poll, 1), wa_id=english[0].wa_id, name="Sam")

    # then: one answer each, Anna's is the later one; the bot says so in one line
    assert texts(first) == ["Danke! Ihre Stimme für „Spielplatz“ ist gezählt."]
    assert texts(second) == ["Ihre Stimme ist jetzt „Bäume“."]
    assert texts(english_reply) == ["Thank you! Your vote for “Radweg” is counted."]
    answers = {a.citizen_id: a for a in PollAnswer.objects.filter(poll=poll)}
    assert {c: (a.option.position, a.changes, a.language) for c, a in answers.items()} == {
        anna.pk: (4, 1, "de"),
        english[0].pk: (1, 0, "en"),
    }
    assert answers[anna.pk].first_answered_at <= answers[anna.pk].answered_at
    # and: an older tap that arrives late leaves the newer answer, but counts the change
    late = deliver_inbound(
        tap(poll, 5), wa_id=english[0].wa_id, name="Sam", at=clock.now() - timedelta(minutes=5)
    )
    assert texts(late) == ["Your vote for “Radweg” stays counted."]
    stale = PollAnswer.objects.get(poll=poll, citizen=english[0])
    assert (stale.option.position, stale.changes) == (1, 1)
    assert stale.first_answered_at < stale.answered_at
    # and: no inbox conversation, although Anna has the chat with the office
    assert not Conversation.objects.exists()


def test_a_tap_after_closing_gets_the_closed_reply_and_changes_nothing(
    delivered_poll, deliver_inbound
):
    post, german, _english = delivered_poll
    poll = post.poll
    deliver_inbound(tap(poll, 3), wa_id=german[0].wa_id, name="Anna")

    do_close_poll(post, actor=approver())
    late = clock.now() + timedelta(seconds=2)
    changed_too_late = deliver_inbound(tap(poll, 1), wa_id=german[0].wa_id, name="Anna", at=late)
    first_too_late = deliver_inbound(tap(poll, 1), wa_id=german[1].wa_id, name="Ben", at=late)

    expected = ["Diese Umfrage ist leider beendet. Danke für Ihr Interesse!"]
    assert texts(changed_too_late) == texts(first_too_late) == expected
    assert list(PollAnswer.objects.values_list("citizen_id", "option__position")) == [
        (german[0].pk, 3)
    ]


def test_a_poll_closed_too_early_is_reopened_from_its_page_and_counts_taps_again(
    delivered_poll, deliver_inbound, client
):
    # given: the poll was closed, and Ben's tap after it got the "closed" reply
    post, german, _english = delivered_poll
    poll = post.poll
    boss = approver()
    do_close_poll(post, actor=boss)
    late = clock.now() + timedelta(seconds=2)
    deliver_inbound(tap(poll, 1), wa_id=german[1].wa_id, name="Ben", at=late)
    client.force_login(boss)
    page = client.get(f"/kanal/{post.pk}/umfrage/").content.decode()
    assert 'id="reopen-poll"' in page and 'id="close-poll"' not in page

    # when: the approver reopens it on the poll's page and Ben taps again
    response = client.post(f"/kanal/{post.pk}/umfrage/wieder-oeffnen/", follow=True)
    again = deliver_inbound(tap(poll, 1), wa_id=german[1].wa_id, name="Ben", at=late)

    # then: open until closed by hand, and Ben's answer counts
    poll.refresh_from_db()
    assert poll.closes_at is None
    assert "Die Umfrage ist wieder geöffnet." in response.content.decode()
    assert texts(again) != ["Diese Umfrage ist leider beendet. Danke für Ihr Interesse!"]
    assert list(PollAnswer.objects.values_list("citizen_id", "option__position")) == [
        (german[1].pk, 1)
    ]
    # and: an open poll is not reopened; once the results went out it stays closed
    with pytest.raises(PostActionRefused):
        do_reopen_poll(post, actor=boss)
    do_close_poll(post, actor=boss)
    do_send_poll_results(post, actor=boss)
    with pytest.raises(PostActionRefused, match="bleibt beendet"):
        do_reopen_poll(post, actor=boss)
    assert 'id="reopen-poll"' not in client.get(f"/kanal/{post.pk}/umfrage/").content.decode()
    # and: a reader may not reopen it
    client.force_login(staff("leser"))
    assert client.post(f"/kanal/{post.pk}/umfrage/wieder-oeffnen/").status_code == 403


def test_a_tap_by_someone_the_poll_was_not_sent_to_counts_nothing(delivered_poll, deliver_inbound):
    post, _german, _english = delivered_poll
    outsider = citizens(1, topic_slugs=["stadt"], window_open=True)[0]

    sent = deliver_inbound(tap(post.poll, 1), wa_id=outsider.wa_id, name="Eve")
    forged = deliver_inbound(
        tap(post.poll, 9), wa_id=_german[0].wa_id, name="Anna"
    )  # no such option

    assert texts(sent) == texts(forged) == ["Diese Umfrage ist leider nicht verfügbar."]
    assert not PollAnswer.objects.exists()


def test_results_page_csv_and_results_to_participants(delivered_poll, deliver_inbound, client):
    post, german, english = delivered_poll
    poll = post.poll
    for citizen, position in ((german[0], 2), (german[1], 2), (english[0], 5)):
        deliver_inbound(tap(poll, position), wa_id=citizen.wa_id, name="x")
    reader = staff("leser")
    client.force_login(reader)

    # the results: counts and percentages per option
    page = client.get(f"/kanal/{post.pk}/umfrage/ergebnis/").content.decode()
    assert 'data-testid="poll-total">3<' in page
    assert 'data-testid="poll-count-2">2<' in page
    assert 'data-testid="poll-percent-2">67 %<' in page
    assert 'data-testid="poll-count-5">1<' in page
    assert "hx-trigger" in page

    # the CSV: one row per answer, no phone number
    response = client.get(f"/kanal/{post.pk}/umfrage/antworten.csv")
    content = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(content)))
    assert sorted((r["option_number"], r["option"], r["language"]) for r in rows) == [
        ("2", "Spielplatz", "de"),
        ("2", "Spielplatz", "de"),
        ("5", "Bänke", "en"),
    ]
    for citizen in (*german, *english):
        assert citizen.wa_id not in content and citizen.wa_id[-6:] not in content

    # a reader may neither close the poll nor send the results
    assert client.post(f"/kanal/{post.pk}/umfrage/schliessen/").status_code == 403
    poll.refresh_from_db()
    assert poll.closes_at is None

    # the approver closes it and sends the results: text to open windows, the results
    # template to closed ones (none approved here: skipped and counted)
    boss = approver()
    with pytest.raises(PostActionRefused, match="Beenden Sie die Umfrage"):
        do_send_poll_results(post, actor=boss)
    do_close_poll(post, actor=boss)
    Citizen.objects.filter(pk=english[0].pk).update(last_inbound_at=clock.now() - timedelta(days=2))
    before = set(Message.objects.values_list("pk", flat=True))
    outcome = do_send_poll_results(post, actor=boss)
    assert (outcome.queued, outcome.skipped) == (2, 1)
    results = Message.objects.exclude(pk__in=before)
    assert {m.wa_id for m in results} == {german[0].wa_id, german[1].wa_id}
    text = results.first().payload["text"]["body"]
    assert text.startswith("*Ergebnis der Umfrage: Was wünschen Sie sich?*")
    assert "3 Antworten: Radweg 0 % (0) · Spielplatz 67 % (2)" in text
    with pytest.raises(PostActionRefused, match="bereits versendet"):
        do_send_poll_results(post, actor=boss)


# --- the poll in English ------------------------------------------------------------------------

FIVE_EN = ["Cycle path", "Playground", "", "Trees", "Benches"]  # the third stays German


def english_poll_post(
    options: list[str] = FIVE, options_en: list[str] = FIVE_EN, *, closes_at=None
) -> Post:
    return do_publish_post(
        kind=Post.Kind.URGENT,
        topics=topics("verkehr"),
        versions={
            "de": ("Stadtpark", "Wir gestalten den Stadtpark neu."),
            "en": ("City park", "We redesign the city park."),
        },
        poll=PollDraft(
            "Was wünschen Sie sich?",
            options,
            closes_at,
            question_en="What would you like?",
            options_en=options_en,
        ),
    )


def test_english_citizens_get_the_poll_in_english_each_missing_text_in_german(daytime, settings):
    settings.PUBLIC_BASE_URL = "https://townhall.musterstadt.de"
    poll_template(5)
    poll_template(5, "en")
    poll_template(3, "en")
    open_de = citizens(1, topic_slugs=["verkehr"], window_open=True)[0]
    open_en = citizens(1, topic_slugs=["verkehr"], window_open=True, language="en")[0]
    closed_en = citizens(1, topic_slugs=["verkehr"], language="en")[0]

    # when: a five-option poll with English texts (one option left German) goes out
    five = english_poll_post()
    do_fan_out_post(five.pk)

    # then: the English list has the English question and titles, the same ids
    by_citizen = {
        d.citizen_id: d.message.payload
        for d in PostDelivery.objects.filter(post=five).select_related("message")
    }
    poll = five.poll
    listed = by_citizen[open_en.pk]["interactive"]
    rows = listed["action"]["sections"][0]["rows"]
    assert [(r["id"], r["title"]) for r in rows] == [
        (f"poll:{poll.pk}:1", "Cycle path"),
        (f"poll:{poll.pk}:2", "Playground"),
        (f"poll:{poll.pk}:3", "Parkplätze"),
        (f"poll:{poll.pk}:4", "Trees"),
        (f"poll:{poll.pk}:5", "Benches"),
    ]
    assert listed["body"]["text"].startswith("*City park*\n\nWe redesign the city park.")
    assert listed["body"]["text"].endswith("*What would you like?*")
    # and: German citizens still get the German texts
    german = by_citizen[open_de.pk]["interactive"]
    assert [r["title"] for r in german["action"]["sections"][0]["rows"]] == FIVE
    assert german["body"]["text"].endswith("*Was wünschen Sie sich?*")
    # and: the English template for a closed window carries the English question and options
    template = by_citizen[closed_en.pk]["template"]
    assert (template["name"], template["language"]["code"]) == ("info_kanal_umfrage_5", "en")
    body = next(c for c in template["components"] if c["type"] == "body")["parameters"]
    assert [p["text"] for p in body][2:4] == [
        "What would you like?",
        "1 = Cycle path · 2 = Playground · 3 = Parkplätze · 4 = Trees · 5 = Benches",
    ]
    payloads = [
        c["parameters"][0]["payload"] for c in template["components"] if c["type"] == "button"
    ]
    assert payloads == [f"poll:{poll.pk}:{i}" for i in range(1, 6)]

    # when: a three-option poll goes out, the English buttons are English
    three = english_poll_post(["Ja", "Nein", "Egal"], ["Yes", "No", "Don't mind"])
    do_fan_out_post(three.pk)
    buttons = PostDelivery.objects.get(post=three, citizen=open_en).message.payload["interactive"]
    assert [(b["reply"]["id"], b["reply"]["title"]) for b in buttons["action"]["buttons"]] == [
        (f"poll:{three.poll.pk}:{i}", title)
        for i, title in enumerate(["Yes", "No", "Don't mind"], start=1)
    ]


def test_without_an_english_template_the_german_one_goes_with_the_german_poll(daytime):
    poll_template(3)
    closed_en = citizens(1, topic_slugs=["verkehr"], language="en")[0]

    post = english_poll_post(["Ja", "Nein", "Egal"], ["Yes", "No", "Don't mind"])
    do_fan_out_post(post.pk)

    template = PostDelivery.objects.get(post=post, citizen=closed_en).message.payload["template"]
    assert template["language"]["code"] == "de"
    body = next(c for c in template["components"] if c["type"] == "body")["parameters"]
    assert [p["text"] for p in body][:4] == [
        "Stadtpark",
        "Wir gestalten den Stadtpark neu.",
        "Was wünschen Sie sich?",
        "1 = Ja · 2 = Nein · 3 = Egal",
    ]


@pytest.fixture
def delivered_english_poll(daytime):
    """A five-option poll with English texts delivered to one German and two English
    citizens, all with open windows."""
    poll_template(5)
    german = citizens(1, topic_slugs=["verkehr"], window_open=True)
    english = citizens(2, topic_slugs=["verkehr"], window_open=True, language="en")
    post = english_poll_post()
    do_fan_out_post(post.pk)
    return post, german, english


def test_english_citizens_read_their_answer_in_english_and_votes_count_per_option(
    delivered_english_poll, deliver_inbound
):
    post, german, english = delivered_english_poll
    poll = post.poll
    sam, kim = english

    # when: Sam taps "Cycle path", then changes to the option without English title; an
    # older tap arrives late; Anna (German) and Kim (English) pick the same option
    first = deliver_inbound(tap(poll, 1), wa_id=sam.wa_id, name="Sam")
    changed = deliver_inbound(quick_reply(poll, 3), wa_id=sam.wa_id, name="Sam")
    late = deliver_inbound(
        tap(poll, 4), wa_id=sam.wa_id, name="Sam", at=clock.now() - timedelta(minutes=5)
    )
    anna = deliver_inbound(tap(poll, 2), wa_id=german[0].wa_id, name="Anna")
    kim_says = deliver_inbound(tap(poll, 2), wa_id=kim.wa_id, name="Kim")

    # then: each confirmation names the option as the citizen saw it
    assert texts(first) == ["Thank you! Your vote for “Cycle path” is counted."]
    assert texts(changed) == ["Your vote is changed to “Parkplätze”."]
    assert texts(late) == ["Your vote for “Parkplätze” stays counted."]
    assert texts(anna) == ["Danke! Ihre Stimme für „Spielplatz“ ist gezählt."]
    assert texts(kim_says) == ["Thank you! Your vote for “Playground” is counted."]
    # and: the answers count per option, whatever the language
    assert sorted(PollAnswer.objects.values_list("option__position", "language")) == [
        (2, "de"),
        (2, "en"),
        (3, "en"),
    ]

    # when: the poll is closed and Kim taps again
    do_close_poll(post, actor=approver())
    closed = deliver_inbound(
        tap(poll, 1), wa_id=kim.wa_id, name="Kim", at=clock.now() + timedelta(seconds=2)
    )
    assert texts(closed) == ["Sorry, this poll is closed. Thank you for your interest!"]


def test_a_citizens_data_export_shows_the_poll_as_they_answered_it(
    delivered_english_poll, deliver_inbound
):
    post, german, english = delivered_english_poll
    deliver_inbound(tap(post.poll, 1), wa_id=english[0].wa_id, name="Sam")
    deliver_inbound(tap(post.poll, 1), wa_id=german[0].wa_id, name="Anna")

    exported = {
        citizen.wa_id: [
            (answer["question"], answer["option"], answer["language"])
            for answer in citizen_poll_export(citizen)["poll_answers"]
        ]
        for citizen in (english[0], german[0])
    }

    assert exported == {
        english[0].wa_id: [(post.poll.question_en, "1. Cycle path", "en")],
        german[0].wa_id: [(post.poll.question, "1. Radweg", "de")],
    }


def test_the_results_go_to_english_participants_in_english(delivered_english_poll, deliver_inbound):
    post, german, english = delivered_english_poll
    poll = post.poll
    for citizen, position in ((german[0], 1), (english[0], 1), (english[1], 3)):
        deliver_inbound(tap(poll, position), wa_id=citizen.wa_id, name="x")
    seed_template("info_kanal_umfrage_ergebnis", "de")
    seed_template("info_kanal_umfrage_ergebnis", "en")
    Citizen.objects.filter(pk=english[1].pk).update(last_inbound_at=clock.now() - timedelta(days=2))
    boss = approver()
    do_close_poll(post, actor=boss)
    before = set(Message.objects.values_list("pk", flat=True))

    outcome = do_send_poll_results(post, actor=boss)

    assert (outcome.queued, outcome.skipped) == (3, 0)
    sent = {m.wa_id: m.payload for m in Message.objects.exclude(pk__in=before)}
    assert sent[english[0].wa_id]["text"]["body"] == (
        "*Results of the poll: What would you like?*\n\n3 answers: Cycle path 67 % (2) · "
        "Playground 0 % (0) · Parkplätze 33 % (1) · Trees 0 % (0) · Benches 0 % (0)"
    )
    assert sent[german[0].wa_id]["text"]["body"].startswith(
        "*Ergebnis der Umfrage: Was wünschen Sie sich?*\n\n3 Antworten: Radweg 67 % (2) · "
    )
    template = sent[english[1].wa_id]["template"]
    assert template["language"]["code"] == "en"
    body = next(c for c in template["components"] if c["type"] == "body")["parameters"]
    assert body[0]["text"] == "What would you like?"
    assert body[1]["text"].startswith("3 answers: Cycle path 67 % (2) · Playground 0 % (0)")


@pytest.mark.parametrize(
    ("options", "options_en", "question_en", "field", "problem"),
    [
        (["Ja", "Nein"], ["Yes", "No, certainly not today"], "", "options_en", "höchstens 20"),
        (
            ["a", "b", "c", "d"],
            ["", "", "", "A very long list row title"],
            "",
            "options_en",
            "höchstens 24",
        ),
        (["Ja", "Nein"], ["", "Ja"], "", "options_en", "anders lauten"),
        (["Ja", "", "Nein"], ["Yes", "Maybe", "No"], "", "options_en", "Zeile 2"),
        (["Ja", "Nein"], ["Yes", "No", "Maybe"], "", "options_en", "mehr englische Antworten"),
        (["Ja", "Nein"], [], "Q" * 201, "question_en", "201"),
    ],
)
def test_english_poll_texts_that_break_whatsapps_limits_are_refused(
    options, options_en, question_en, field, problem
):
    with pytest.raises(PollRefused, match=problem) as refused:
        check_poll(PollDraft("Frage?", options, question_en=question_en, options_en=options_en))
    assert refused.value.field == field


def test_english_options_follow_their_german_lines_and_may_be_left_german():
    poll = check_poll(
        PollDraft(
            "Frage?",
            ["Ja", "", "Nein", "Egal"],
            question_en=" Question? ",
            options_en=["Yes", "", "", "Don't  mind", ""],
        )
    )
    assert poll.options == ["Ja", "Nein", "Egal"]
    assert poll.options_en == ["Yes", "", "Don't mind"]
    assert poll.question_en == "Question?"


def test_english_poll_texts_need_an_english_version_of_the_post(daytime):
    author = approver()
    german_only = {"de": ("Stadtpark", "Wir gestalten den Stadtpark neu.")}

    with pytest.raises(PostActionRefused, match="englische Fassung"):
        do_save_draft(
            author=author,
            kind=Post.Kind.NORMAL,
            topics=[],
            versions=german_only,
            poll=PollDraft("Frage?", ["Ja", "Nein"], options_en=["Yes", "No"]),
        )

    assert not Post.objects.exists()
    assert not Poll.objects.exists()


def test_editing_and_approving_a_draft_keeps_the_polls_english_texts(daytime, client):
    # given: a draft with an English poll, saved by its author
    author = staff("redaktion", "channel.add_post", "channel.change_post")
    boss = approver()
    versions = {"de": ("Stadtpark", "Neu."), "en": ("City park", "New.")}
    poll = PollDraft("Frage?", ["Ja", "Nein"], question_en="Question?", options_en=["Yes", ""])
    post = do_save_draft(
        author=author, kind=Post.Kind.URGENT, topics=topics("verkehr"), versions=versions, poll=poll
    )

    # when: the author opens the composer again and saves it unchanged, then it is approved
    client.force_login(author)
    page = client.get(f"/kanal/{post.pk}/bearbeiten/")
    form = page.context["form"]
    data = {
        name: form[name].value() if form[name].value() is not None else ""
        for name in form.fields
        if name not in ("attachment", "topics")
    }
    data.update(
        topics=[str(t.pk) for t in topics("verkehr")],
        send_at="",
        poll_closes_at="",
        post=str(post.pk),
        action="submit",
    )
    response = client.post(f"/kanal/{post.pk}/bearbeiten/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    do_approve(post, actor=boss)

    # then: the English texts are still there, and go out
    saved = Poll.objects.get(post=post)
    assert (saved.question, saved.question_en) == ("Frage?", "Question?")
    assert list(saved.options.values_list("position", "title", "title_en")) == [
        (1, "Ja", "Yes"),
        (2, "Nein", ""),
    ]
    assert post.events.filter(action="approved").exists()


def test_staff_pages_show_the_english_poll_texts(delivered_english_poll, deliver_inbound, client):
    post, _german, english = delivered_english_poll
    deliver_inbound(tap(post.poll, 1), wa_id=english[0].wa_id, name="Sam")
    client.force_login(staff("leser"))

    detail = client.get(f"/kanal/{post.pk}/").content.decode()
    poll_page = client.get(f"/kanal/{post.pk}/umfrage/").content.decode()
    report = client.get(f"/kanal/{post.pk}/bericht/").content.decode()

    for html in (detail, poll_page, report):
        assert "Was wünschen Sie sich?" in html
        assert re.search(r'lang="en"[^>]*>What would you like\?<', html)
        assert 'data-testid="poll-option-en-1">Cycle path<' in html
        assert 'data-testid="poll-option-en-5">Benches<' in html
        # the option without English title shows the German one only
        assert 'data-testid="poll-option-en-3"' not in html
    assert 'data-testid="poll-count-1">1<' in report


def test_the_public_page_in_english_shows_the_english_poll_and_results(
    delivered_english_poll, deliver_inbound, client
):
    post, german, english = delivered_english_poll
    for citizen, position in ((german[0], 1), (english[0], 1), (english[1], 3)):
        deliver_inbound(tap(post.poll, position), wa_id=citizen.wa_id, name="x")

    english_open = client.get(f"/p/{post.public_id}/?lang=en").content.decode()
    german_open = client.get(f"/p/{post.public_id}/").content.decode()
    boss = approver()
    do_close_poll(post, actor=boss)
    do_send_poll_results(post, actor=boss)
    english_results = client.get(f"/p/{post.public_id}/?lang=en").content.decode()

    assert '<span lang="en">What would you like?</span>' in english_open
    assert (
        '<li lang="en">Cycle path</li><li lang="en">Playground</li><li lang="de">Parkplätze</li>'
        in english_open
    )
    assert '<span lang="de">Was wünschen Sie sich?</span>' in german_open
    assert '<li lang="de">Radweg</li><li lang="de">Spielplatz</li>' in german_open
    assert '<span lang="en">Cycle path</span>' in english_results
    assert '<span lang="de">Parkplätze</span>' in english_results
    assert 'data-testid="poll-result-1">67 % (2)<' in english_results
