"""The info channel's staff pages: who may do what, autosave, preview, audience, progress."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from townhall.channel.actions import (
    do_fan_out_post,
    do_finish_post_if_handed_over,
    do_save_draft,
    do_submit_for_approval,
)
from townhall.channel.models import MessagePrice, Post, PostDelivery, PostEvent
from townhall.channel.tests.factories import (
    approved_template,
    approver,
    citizens,
    editor,
    sending_post,
    staff,
    topics,
)
from townhall.citizens.actions import do_set_notification_mode
from townhall.citizens.models import (
    Citizen,
    NotificationMode,
    Offering,
    Subscription,
    TopicSubscription,
)
from townhall.core import clock
from townhall.whatsapp.models import Message, MessageTemplate

pytestmark = pytest.mark.django_db

GERMAN = {"de": ("Stadtfest", "Am Samstag ist *Stadtfest* auf dem Marktplatz.")}


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def draft(author: User, *, kind: str = Post.Kind.NORMAL, **options) -> Post:
    return do_save_draft(
        author=author, kind=kind, topics=topics("veranstaltungen"), versions=GERMAN, **options
    )


def composer_data(**changes: str) -> dict[str, object]:
    data: dict[str, object] = {
        "title_de": "Sperrung Hauptstraße",
        "text_de": "Die Hauptstraße ist *gesperrt*. Umleitung über die Ringstraße.",
        "title_en": "",
        "text_en": "",
        "kind": "normal",
        "send_mode": "now",
        "send_at": "",
        "valid_for_seconds": "",
        "template": "",
        "post": "",
    }
    data.update(changes)
    return data


# --- who may do what ----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login(client: Client) -> None:
    response = client.get(reverse("channel:posts"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff:login"))


def test_accounts_without_staff_rights_see_nothing() -> None:
    outsider = User.objects.create_user("buerger", password="x")
    client = client_for(outsider)
    assert client.get(reverse("channel:posts")).status_code == 403
    assert client.get(reverse("channel:rate_card")).status_code == 403


def test_any_staff_member_reads_posts_but_only_editors_write_them() -> None:
    reader = staff("leser")
    post = draft(editor())
    client = client_for(reader)

    assert client.get(reverse("channel:posts")).status_code == 200
    assert client.get(reverse("channel:post", args=[post.pk])).status_code == 200
    assert client.get(reverse("channel:compose")).status_code == 403
    assert client.post(reverse("channel:autosave"), composer_data()).status_code == 403
    assert client.get(reverse("channel:edit", args=[post.pk])).status_code == 403
    assert Post.objects.count() == 1


def test_an_editor_cannot_send_without_approval(
    daytime, django_capture_on_commit_callbacks, fake_cloud_api
) -> None:
    # given: an urgent post of an editor waits for approval; its audience could be reached
    author = editor()
    approved_template()
    citizens(3, topic_slugs=["veranstaltungen"], window_open=True)
    post = draft(author, kind=Post.Kind.URGENT)
    do_submit_for_approval(post, actor=author)
    client = client_for(author)

    # when: the editor posts to every sending URL
    with django_capture_on_commit_callbacks(execute=True):
        responses = [
            client.post(reverse(name, args=[post.pk]), {"comment": "passt"})
            for name in ("channel:approve", "channel:send_urgent", "channel:review_after")
        ]

    # then: refused, and nothing changed or was queued
    assert [response.status_code for response in responses] == [403, 403, 403]
    post.refresh_from_db()
    assert post.state == Post.State.IN_REVIEW
    assert not PostDelivery.objects.exists()
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()
    assert fake_cloud_api.requests == []
    assert list(post.events.values_list("action", flat=True)) == [
        PostEvent.Action.DRAFTED,
        PostEvent.Action.SUBMITTED,
    ]


def test_the_composer_refuses_the_urgent_button_without_the_permission(daytime) -> None:
    author = editor()
    client = client_for(author)

    response = client.post(
        reverse("channel:compose"), composer_data(kind="urgent", action="urgent")
    )
    post = Post.objects.get()
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 403
    assert post.state == Post.State.DRAFT
    assert not PostDelivery.objects.exists()


def test_an_approver_approves_and_the_post_goes_out(
    daytime, django_capture_on_commit_callbacks, fake_cloud_api
) -> None:
    # given
    author, press_office = editor(), approver()
    approved_template()
    citizens(2, topic_slugs=["veranstaltungen"], window_open=True)
    post = draft(author)
    do_submit_for_approval(post, actor=author)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(press_office).post(
            reverse("channel:approve", args=[post.pk]), {"comment": "Gern so."}
        )

    # then
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.approved_by == press_office
    assert post.state in (Post.State.SENDING, Post.State.SENT)
    assert PostDelivery.objects.filter(post=post).count() == 2
    assert len(fake_cloud_api.requests) == 2
    page = client_for(author).get(reverse("channel:post", args=[post.pk])).content.decode()
    assert "Gern so." in page


def test_sending_back_needs_a_comment_and_the_author_sees_it(daytime) -> None:
    author, press_office = editor(), approver()
    post = draft(author)
    do_submit_for_approval(post, actor=author)
    reviewer = client_for(press_office)

    empty = reviewer.post(reverse("channel:request_changes", args=[post.pk]), {"comment": " "})
    post.refresh_from_db()
    assert post.state == Post.State.IN_REVIEW
    assert "flash__item--error" in reviewer.get(empty["Location"]).content.decode()

    reviewer.post(
        reverse("channel:request_changes", args=[post.pk]),
        {"comment": "Bitte die Uhrzeit ergänzen."},
    )
    post.refresh_from_db()
    assert post.state == Post.State.CHANGES_REQUESTED
    page = client_for(author).get(reverse("channel:post", args=[post.pk])).content.decode()
    assert 'id="review-comment"' in page
    assert "Ihr Beitrag wurde mit diesem Kommentar zurückgegeben" in page
    assert "Bitte die Uhrzeit ergänzen." in page
    editor_page = client_for(author).get(reverse("channel:edit", args=[post.pk])).content.decode()
    assert "Bitte die Uhrzeit ergänzen." in editor_page


def test_the_list_shows_tabs_with_counts_and_what_waits_for_the_approver(daytime) -> None:
    author, press_office = editor(), approver()
    waiting = draft(author)
    do_submit_for_approval(waiting, actor=author)
    draft(author)

    page = client_for(press_office).get(reverse("channel:posts")).content.decode()

    assert 'id="waiting-for-me"' in page
    assert re.search(r"Entwürfe <span class=\"badge\">1</span>", page)
    assert re.search(r"Wartet auf Freigabe <span class=\"badge\">1</span>", page)
    assert reverse("channel:post", args=[waiting.pk]) in page
    editor_page = client_for(author).get(reverse("channel:posts")).content.decode()
    assert 'id="waiting-for-me"' not in editor_page


# --- composer: autosave, preview, audience ---------------------------------------------------


def test_autosave_creates_the_draft_once_and_then_updates_it(daytime) -> None:
    author = editor()
    client = client_for(author)

    first = client.post(
        reverse("channel:autosave"), composer_data(), headers={"HX-Request": "true"}
    )
    post = Post.objects.get()
    assert first.status_code == 200
    assert first["HX-Replace-Url"] == reverse("channel:edit", args=[post.pk])
    html = first.content.decode()
    assert f"Gespeichert um {clock.now().astimezone(daytime.tzinfo):%H:%M}" in html
    assert f'id="post-id" value="{post.pk}" hx-swap-oob="true"' in html

    second = client.post(
        reverse("channel:autosave"),
        composer_data(post=str(post.pk), text_de="Neuer Text"),
        headers={"HX-Request": "true"},
    )
    assert second.status_code == 200
    assert "HX-Replace-Url" not in second
    assert Post.objects.count() == 1
    assert post.versions.get(language="de").text == "Neuer Text"


def test_autosave_waits_for_the_german_text(daytime) -> None:
    response = client_for(editor()).post(
        reverse("channel:autosave"), composer_data(text_de=""), headers={"HX-Request": "true"}
    )
    assert "Noch nicht gespeichert" in response.content.decode()
    assert not Post.objects.exists()


def test_autosave_does_not_touch_someone_elses_draft(daytime) -> None:
    post = draft(editor("autorin"))
    other = staff("kollege", "channel.add_post")
    response = client_for(other).post(
        reverse("channel:autosave"), composer_data(post=str(post.pk), text_de="Überschrieben")
    )
    assert "Noch nicht gespeichert" in response.content.decode()
    assert post.versions.get(language="de").text == GERMAN["de"][1]


def test_preview_renders_formatting_escapes_markup_and_fills_the_template(daytime) -> None:
    template = approved_template(body="*{{1}}*\n{{2}}\nMehr: {{3}}")
    client = client_for(editor())

    response = client.post(
        reverse("channel:preview"),
        composer_data(
            text_de="Die Straße ist *gesperrt* <script>alert(1)</script>", template=str(template.pk)
        ),
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<strong>Sperrung Hauptstraße</strong>" in html
    assert "<strong>gesperrt</strong>" in html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    free_text = "*Sperrung Hauptstraße*\n\nDie Straße ist *gesperrt* <script>alert(1)</script>\n\nhttp://127.0.0.1:8000/p/…/"
    assert f"Nachricht: {len(free_text)} / 4096" in html
    template_bubble = re.search(r'data-testid="template-de">(.*?)</div>', html, re.S)
    assert template_bubble is not None
    assert "<strong>Sperrung Hauptstraße</strong><br>Die Straße ist *gesperrt*" not in html
    assert "Mehr: <a href=" in template_bubble.group(1)


def test_preview_counts_against_the_caption_limit_with_an_attachment(daytime) -> None:
    response = client_for(editor()).post(
        reverse("channel:preview"), composer_data(text_de="x" * 1100, attachment_name="plan.pdf")
    )
    html = response.content.decode()
    assert re.search(r"Bildunterschrift: \d+ / 1024", html)
    assert "zu lang" in html


def test_the_composer_says_when_no_template_is_approved(daytime) -> None:
    MessageTemplate.objects.create(name="info_kanal_meldung", language="de", body="{{1}}")
    html = client_for(editor()).get(reverse("channel:compose")).content.decode()
    assert (
        "Bürger mit geschlossenem 24-Stunden-Fenster können nur mit einer genehmigten Vorlage "
        "erreicht werden." in html
    )
    assert 'name="template"' not in html


def _austrian_citizens(count: int, *, topic_slug: str) -> None:
    created = [
        Citizen.objects.create(
            wa_id=f"43664000{index:04d}",
            language="de",
            last_inbound_at=clock.now() - timedelta(days=3),
        )
        for index in range(count)
    ]
    for citizen in created:
        Subscription.objects.create(
            citizen=citizen, offering=Offering.INFO, state=Subscription.State.ACTIVE
        )
        TopicSubscription.objects.create(citizen=citizen, topic=topics(topic_slug)[0])


def test_audience_split_and_cost_for_a_seeded_case(daytime, rate_card) -> None:
    # given: 10 German citizens inside their window, 5 outside, 2 Austrians outside, 3 who
    # withdrew consent, 4 English speakers outside; a utility template; Austrian prices
    template = approved_template()
    citizens(10, topic_slugs=["verkehr"], window_open=True)
    citizens(5, topic_slugs=["verkehr"])
    citizens(3, topic_slugs=["verkehr"], consent=False)
    citizens(4, topic_slugs=["verkehr"], language="en")
    _austrian_citizens(2, topic_slug="verkehr")
    MessagePrice.objects.create(
        category="utility", country="AT", price=Decimal("0.0297"), valid_from=date(2025, 7, 1)
    )

    # when
    response = client_for(editor()).post(
        reverse("channel:audience"),
        composer_data(
            template=str(template.pk),
            topics=[str(topics("verkehr")[0].pk)],
            title_en="Road closed",
            text_en="Main street is closed.",
        ),
    )

    # then: 21 reached, 10 as free text, 11 as template; 9 German-speaking templates at
    # 0.0456 and 2 Austrian at 0.0297 (the free text is free) = 0.4698 EUR
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="audience-total">21<' in html
    assert 'data-testid="audience-free-text">10<' in html
    assert 'data-testid="audience-template">11<' in html
    assert "Deutsch 17 · Englisch 4" in html
    assert "3 Bürger haben diese Themen gewählt, aber keine gültige Einwilligung" in html
    assert 'data-testid="cost-total">0,47 EUR<' in html
    lines = re.findall(r"<tr>\s*<td>(\w+)</td>\s*<td>([^<]+)</td>.*?>([\d,]+ EUR)</td>", html, re.S)
    assert lines == [
        ("DE", "Servicenachricht (Freitext)", "0,0000 EUR"),
        ("DE", "Service-Vorlage (Utility)", "0,4104 EUR"),
        ("AT", "Service-Vorlage (Utility)", "0,0594 EUR"),
    ]
    assert 'data-testid="limit-ok"' in html


def test_the_audience_panel_leaves_out_who_wants_the_summary_or_urgent_alerts_only(rate_card):
    # given: 6 subscribers of "verkehr", windows open: 2 on the daily summary, 1 urgent only
    audience = citizens(6, topic_slugs=["verkehr"], window_open=True)
    for citizen in audience[:2]:
        do_set_notification_mode(citizen, NotificationMode.DIGEST, channel="whatsapp_keyword")
    do_set_notification_mode(audience[2], NotificationMode.URGENT_ONLY, channel="web_form")
    data = composer_data(topics=[str(topics("verkehr")[0].pk)])

    # when: a normal post, then an urgent alert
    normal = client_for(editor()).post(reverse("channel:audience"), data).content.decode()
    urgent = (
        client_for(editor("editor2"))
        .post(reverse("channel:audience"), {**data, "kind": "urgent"})
        .content.decode()
    )

    # then
    assert 'data-testid="audience-total">3<' in normal
    assert "2 Bürger haben die tägliche Zusammenfassung gewählt" in normal
    assert "1 Bürger möchte nur dringende Meldungen: nicht dabei." in normal
    assert 'data-testid="audience-total">6<' in urgent
    assert 'id="audience-bell"' not in urgent


def test_the_audience_panel_shows_the_plan_when_the_messaging_limit_is_reached(
    daytime, settings
) -> None:
    settings.CHANNEL = {**settings.CHANNEL, "MESSAGING_LIMIT": "250"}
    template = approved_template()
    citizens(260, topic_slugs=["verkehr"])

    html = (
        client_for(editor())
        .post(
            reverse("channel:audience"),
            composer_data(template=str(template.pk), topics=[str(topics("verkehr")[0].pk)]),
        )
        .content.decode()
    )

    plan = re.search(r'data-testid="limit-plan">(.*?)</p>', html, re.S)
    assert plan is not None
    assert "260 Vorlagen-Nachrichten" in plan.group(1)
    assert "250 sind jetzt möglich" in plan.group(1)
    assert "die anderen 10 ab" in plan.group(1)


# --- detail and progress ------------------------------------------------------------------------


def test_progress_polls_while_sending_and_stops_when_no_status_is_expected(
    daytime, time_machine, django_capture_on_commit_callbacks, fake_cloud_api
) -> None:
    # given: an urgent alert has started sending; its fan-out has not run yet
    citizens(3, topic_slugs=["verkehr"], window_open=True)
    reader = client_for(approver("pressestelle"))
    post = sending_post()
    live = reader.get(reverse("channel:progress", args=[post.pk])).content.decode()
    assert 'hx-trigger="every 2s' in live
    assert 'data-testid="progress-audience">0<' in live
    assert 'id="pause-post"' in live

    # when: the audience is queued and handed over, and the post is finished
    with django_capture_on_commit_callbacks(execute=True):
        do_fan_out_post(post.pk)
    assert do_finish_post_if_handed_over(post.pk) is True

    # then: the next poll shows the numbers and the new state, and keeps polling for the
    # delivered and read statuses; the sending controls are gone
    html = reader.get(reverse("channel:progress", args=[post.pk])).content.decode()
    assert 'data-testid="progress-audience">3<' in html
    assert 'data-testid="progress-sent">3<' in html
    assert '<span class="badge" id="post-state" hx-swap-oob="true">Gesendet</span>' in html
    assert 'hx-trigger="every 2s' in html
    assert 'id="pause-post"' not in html

    # and a quarter of an hour later it stops asking
    time_machine.shift(timedelta(minutes=16))
    html = reader.get(reverse("channel:progress", args=[post.pk])).content.decode()
    assert "hx-trigger" not in html


def test_the_trail_shows_who_did_what_and_folds_autosaves(daytime) -> None:
    author = editor()
    post = draft(author)
    client = client_for(author)
    for text in ("eins", "zwei", "drei"):
        client.post(reverse("channel:autosave"), composer_data(post=str(post.pk), text_de=text))
    do_submit_for_approval(post, actor=author)

    html = client.get(reverse("channel:post", args=[post.pk])).content.decode()

    actions = re.findall(r'<li data-action="(\w+)"', html)
    assert actions == ["drafted", "edited", "submitted"]
    assert "(3 Mal" in html


def test_the_approver_sees_the_limit_plan_and_may_approve_with_it(
    daytime, settings, django_capture_on_commit_callbacks, fake_cloud_api
) -> None:
    # given: a post for 260 citizens outside their window, 250 allowed today
    settings.CHANNEL = {**settings.CHANNEL, "MESSAGING_LIMIT": "250"}
    author, press_office = editor(), approver()
    template = approved_template()
    citizens(260, topic_slugs=["veranstaltungen"])
    post = draft(author, template=template)
    do_submit_for_approval(post, actor=author)
    reviewer = client_for(press_office)
    page = reviewer.get(reverse("channel:post", args=[post.pk])).content.decode()
    assert 'id="limit-plan"' in page
    assert "260 Vorlagen-Nachrichten, 250 jetzt möglich, die anderen 10 ab" in page

    # when: approved without accepting the plan, then with it
    refused = reviewer.post(reverse("channel:approve", args=[post.pk]))
    post.refresh_from_db()
    assert post.state == Post.State.IN_REVIEW
    assert "flash__item--error" in reviewer.get(refused["Location"]).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        reviewer.post(reverse("channel:approve", args=[post.pk]), {"send_rest_after_limit": "on"})

    # then
    post.refresh_from_db()
    assert post.state in (Post.State.SENDING, Post.State.SENT)
    assert post.send_rest_after_limit is True


def test_an_urgent_alert_is_confirmed_sent_and_reviewed_afterwards(
    daytime, django_capture_on_commit_callbacks, fake_cloud_api
) -> None:
    # given: a duty officer with the urgent permission, citizens with an open window
    duty = staff("bereitschaft", "channel.add_post", "channel.change_post", "channel.send_urgent")
    press_office = approver()
    citizens(2, topic_slugs=["verkehr"], window_open=True)
    client = client_for(duty)

    # when: the alert is written and the urgent button pressed
    response = client.post(
        reverse("channel:compose"),
        composer_data(kind="urgent", action="urgent", topics=[str(topics("verkehr")[0].pk)]),
    )
    post = Post.objects.get()

    # then: a confirm step first, nothing sent yet
    assert response["Location"] == reverse("channel:send_urgent", args=[post.pk])
    confirm = client.get(response["Location"]).content.decode()
    assert "Diese dringende Meldung jetzt senden?" in confirm
    assert "Sie geht sofort an 2 Bürger" in confirm
    assert not PostDelivery.objects.exists()

    # when: confirmed
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("channel:send_urgent", args=[post.pk]))

    # then: it goes out and waits for a review, which an approver records
    post.refresh_from_db()
    assert post.needs_review_after is True
    assert PostDelivery.objects.filter(post=post).count() == 2
    reviewer = client_for(press_office)
    assert (
        'id="record-review"'
        in reviewer.get(reverse("channel:post", args=[post.pk])).content.decode()
    )
    reviewer.post(reverse("channel:review_after", args=[post.pk]), {"comment": "Richtig so."})
    post.refresh_from_db()
    assert post.needs_review_after is False
    assert post.events.filter(
        action=PostEvent.Action.REVIEWED_AFTER, comment="Richtig so."
    ).exists()


def test_pause_resume_and_cancel_from_the_detail_page(daytime) -> None:
    # given: an urgent alert is sending (its fan-out not yet run)
    citizens(2, topic_slugs=["verkehr"], window_open=True)
    post = sending_post()
    reader, controller = client_for(editor()), client_for(approver())

    # then: an editor may not touch it
    assert reader.post(reverse("channel:pause", args=[post.pk])).status_code == 403
    post.refresh_from_db()
    assert post.state == Post.State.SENDING

    # when / then: the approver pauses, resumes and cancels
    controller.post(reverse("channel:pause", args=[post.pk]))
    post.refresh_from_db()
    assert post.state == Post.State.PAUSED
    page = controller.get(reverse("channel:post", args=[post.pk])).content.decode()
    assert 'id="resume-post"' in page
    controller.post(reverse("channel:resume", args=[post.pk]))
    post.refresh_from_db()
    assert post.state == Post.State.SENDING
    controller.post(reverse("channel:cancel", args=[post.pk]))
    post.refresh_from_db()
    assert post.state == Post.State.CANCELLED


# --- the poll in English in the composer --------------------------------------------------------


def english_poll_data(**changes: str) -> dict[str, object]:
    """The composer with a German and English post and a poll in both languages (the third
    answer left German)."""
    poll = {
        "title_en": "Main street closed",
        "text_en": "Main street is *closed*.",
        "poll_question": "Wie finden Sie die Umleitung?",
        "poll_options": "Gut\nSchlecht\nEgal",
        "poll_question_en": "How do you like the detour?",
        "poll_options_en": "Good\nBad\n",
    }
    return composer_data(**{**poll, **changes})


def test_the_composer_saves_the_polls_english_texts_and_shows_them_again(daytime) -> None:
    client = client_for(editor())

    response = client.post(reverse("channel:compose"), english_poll_data())

    assert response.status_code == 302
    post = Post.objects.get()
    poll = post.poll
    assert (poll.question, poll.question_en) == (
        "Wie finden Sie die Umleitung?",
        "How do you like the detour?",
    )
    assert list(poll.options.values_list("position", "title", "title_en")) == [
        (1, "Gut", "Good"),
        (2, "Schlecht", "Bad"),
        (3, "Egal", ""),
    ]
    # and: the composer shows them again for editing
    html = client.get(reverse("channel:edit", args=[post.pk])).content.decode()
    assert 'value="How do you like the detour?"' in html
    assert "Good\nBad\n</textarea>" in html


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        # three answers are buttons: at most 20 characters, in English too
        ({"poll_options_en": "Good\nA far too long English answer\n"}, "poll_options_en", "20"),
        # four answers are list rows: at most 24
        (
            {
                "poll_options": "Gut\nSchlecht\nEgal\nWeiß nicht",
                "poll_options_en": "\n\n\nI do not know it at all, sorry",
            },
            "poll_options_en",
            "24",
        ),
        ({"poll_question_en": "Q" * 201}, "poll_question_en", "200"),
        ({"poll_options_en": "Good\nGood\n"}, "poll_options_en", "anders lauten"),
        ({"poll_options_en": "Good\nBad\nSame\nMore"}, "poll_options_en", "englische"),
        # English poll texts without an English version of the post
        ({"title_en": "", "text_en": ""}, "poll_question_en", "englische Fassung"),
    ],
)
def test_the_composer_refuses_english_poll_texts_beyond_whatsapps_limits(
    daytime, changes, field, expected
) -> None:
    client = client_for(editor())

    response = client.post(reverse("channel:compose"), english_poll_data(**changes))

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert expected in errors[field][0]
    html = response.content.decode()
    assert errors[field][0] in html.replace("&quot;", '"').replace("&#x27;", "'")
    assert not Post.objects.exists()


def test_the_preview_shows_the_poll_in_english_on_the_english_phone(daytime) -> None:
    response = client_for(editor()).post(reverse("channel:preview"), english_poll_data())

    html = response.content.decode()
    english = re.search(r'data-testid="poll-choices-en">(.*?)</div>', html, re.S)
    german = re.search(r'data-testid="poll-choices-de">(.*?)</div>', html, re.S)
    assert english is not None and german is not None
    assert re.findall(r"<span>(.*?)</span>", english.group(1)) == ["Good", "Bad", "Egal"]
    assert re.findall(r"<span>(.*?)</span>", german.group(1)) == ["Gut", "Schlecht", "Egal"]
    english_bubble = re.search(r'data-testid="free-text-en">(.*?)</div>\s*</div>', html, re.S)
    assert english_bubble is not None
    assert "<strong>How do you like the detour?</strong>" in english_bubble.group(1)
