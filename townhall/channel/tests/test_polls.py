"""Polls: how a poll goes out (buttons, list, template with quick replies), how the bot
records answers through the real intake path (one per citizen, changes, closed polls), the
staff results page, the CSV and the results to the participants."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from townhall.channel.actions import (
    PollDraft,
    PostActionRefused,
    check_poll,
    do_fan_out_post,
    do_publish_post,
)
from townhall.channel.models import Poll, PollAnswer, Post, PostDelivery
from townhall.channel.poll_actions import do_close_poll, do_reopen_poll, do_send_poll_results
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
    seed = next(
        t
        for t in json.loads(Path(simulator_templates.__file__).with_suffix(".json").read_text())
        if t["name"] == f"info_kanal_umfrage_{count}" and t["language"] == language
    )
    defaults = {
        "body": seed["body"],
        "body_examples": seed["body_examples"],
        "footer": seed["footer"],
        "buttons": seed["buttons"],
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
