"""The post's state machine: every allowed step, every forbidden one, and who may do what."""

from __future__ import annotations

import pytest

from townhall.channel.actions import (
    PostActionRefused,
    do_approve,
    do_cancel,
    do_pause,
    do_record_review_after,
    do_request_changes,
    do_resume,
    do_save_draft,
    do_send_urgent_now,
    do_start_due_posts,
    do_submit_for_approval,
)
from townhall.channel.models import Post, PostEvent
from townhall.channel.tests.factories import (
    approved_template,
    approver,
    citizens,
    editor,
    staff,
    topics,
)

pytestmark = pytest.mark.django_db

GERMAN = {"de": ("Stadtfest", "Am Samstag ist *Stadtfest* auf dem Marktplatz.")}


def draft(author, *, kind=Post.Kind.NORMAL, **options):
    return do_save_draft(
        author=author, kind=kind, topics=topics("veranstaltungen"), versions=GERMAN, **options
    )


def trail(post):
    return list(post.events.values_list("action", "actor__username", "comment"))


def assert_refused(action, post, expected_state, **kwargs):
    events_before = post.events.count()
    with pytest.raises(PostActionRefused) as refusal:
        action(post, **kwargs)
    post.refresh_from_db()
    assert post.state == expected_state
    assert post.events.count() == events_before
    return refusal.value.message


def test_draft_review_send_back_edit_and_approve_with_the_whole_trail(
    daytime, django_capture_on_commit_callbacks, fake_cloud_api
):
    author, press_office = editor(), approver()
    approved_template()
    citizens(3, topic_slugs=["veranstaltungen"], window_open=True)

    post = draft(author)
    do_submit_for_approval(post, actor=author)
    do_request_changes(post, actor=press_office, comment="Bitte die Uhrzeit nennen.")
    assert post.state == Post.State.CHANGES_REQUESTED
    assert post.review_comment == "Bitte die Uhrzeit nennen."
    do_save_draft(
        author=author,
        post=post,
        kind=Post.Kind.NORMAL,
        topics=topics("veranstaltungen"),
        versions={"de": ("Stadtfest", "Samstag ab 14 Uhr."), "en": ("City fair", "Saturday 2 pm.")},
    )
    do_submit_for_approval(post, actor=author)
    with django_capture_on_commit_callbacks(execute=True):
        do_approve(post, actor=press_office, comment="Gut so.")
    # everything handed over; the minute's tick marks it sent
    do_start_due_posts()

    post.refresh_from_db()
    assert post.state == Post.State.SENT
    assert post.approved_by == press_office
    assert post.published_at is not None and post.finished_at is not None
    assert sorted(post.versions.values_list("language", flat=True)) == ["de", "en"]
    assert trail(post) == [
        ("drafted", "editor", ""),
        ("submitted", "editor", ""),
        ("changes_requested", "approver", "Bitte die Uhrzeit nennen."),
        ("edited", "editor", ""),
        ("submitted", "editor", ""),
        ("approved", "approver", "Gut so."),
        ("sending_started", None, ""),
        ("finished", None, ""),
    ]
    assert len(fake_cloud_api.requests) == 3


def test_nobody_without_permission_drafts_approves_or_sends_urgent():
    outsider, author = staff("outsider"), editor()
    with pytest.raises(PostActionRefused):
        draft(outsider)
    post = draft(author)
    do_submit_for_approval(post, actor=author)
    assert "nicht berechtigt" in assert_refused(
        do_approve, post, Post.State.IN_REVIEW, actor=author
    )
    assert_refused(do_approve, post, Post.State.IN_REVIEW, actor=outsider)
    assert_refused(do_request_changes, post, Post.State.IN_REVIEW, actor=outsider, comment="Nein")
    urgent = draft(author, kind=Post.Kind.URGENT)
    assert_refused(do_send_urgent_now, urgent, Post.State.DRAFT, actor=author)
    assert_refused(do_pause, urgent, Post.State.DRAFT, actor=author)
    assert_refused(do_cancel, post, Post.State.IN_REVIEW, actor=outsider)


def test_four_eyes_unless_the_author_is_the_only_approver(daytime):
    press_officer = approver("pressestelle")
    own = draft(press_officer)
    do_submit_for_approval(own, actor=press_officer)

    # alone with the permission: may approve their own post
    do_approve(own, actor=press_officer)
    assert own.state == Post.State.APPROVED

    # with a second approver: four eyes
    approver("buergermeisterin")
    second = draft(press_officer)
    do_submit_for_approval(second, actor=press_officer)
    message = assert_refused(do_approve, second, Post.State.IN_REVIEW, actor=press_officer)
    assert message == (
        "Diesen Beitrag muss jemand anderes als die Verfasserin oder der Verfasser freigeben."
    )


def test_forbidden_transitions_change_nothing():
    author, press_office = editor(), approver()
    post = draft(author)
    assert_refused(do_approve, post, Post.State.DRAFT, actor=press_office)
    assert_refused(do_request_changes, post, Post.State.DRAFT, actor=press_office, comment="Warum?")
    assert_refused(do_resume, post, Post.State.DRAFT, actor=press_office)
    assert_refused(do_record_review_after, post, Post.State.DRAFT, actor=press_office)
    assert_refused(
        do_send_urgent_now, post, Post.State.DRAFT, actor=staff("s", "channel.send_urgent")
    )
    do_submit_for_approval(post, actor=author)
    assert_refused(do_submit_for_approval, post, Post.State.IN_REVIEW, actor=author)
    with pytest.raises(PostActionRefused):
        do_save_draft(author=author, post=post, kind="normal", topics=[], versions=GERMAN)
    message = assert_refused(
        do_request_changes, post, Post.State.IN_REVIEW, actor=press_office, comment="  "
    )
    assert message == "Bitte schreiben Sie, was geändert werden soll."
    do_approve(post, actor=press_office)
    assert_refused(do_pause, post, Post.State.APPROVED, actor=press_office)
    assert_refused(do_approve, post, Post.State.APPROVED, actor=press_office)
    do_cancel(post, actor=press_office)
    assert_refused(do_cancel, post, Post.State.CANCELLED, actor=press_office)
    assert_refused(do_resume, post, Post.State.CANCELLED, actor=press_office)


def test_drafts_need_a_german_version_and_a_valid_validity():
    author = editor()
    with pytest.raises(PostActionRefused, match="deutsche Fassung"):
        do_save_draft(author=author, kind="normal", topics=[], versions={"en": ("A", "B")})
    with pytest.raises(PostActionRefused, match="30 Sekunden bis 12 Stunden"):
        draft(author, valid_for_seconds=10)
    assert not Post.objects.exists()


def test_only_the_author_or_an_editor_may_change_a_draft():
    post = draft(editor("anna"))
    other = staff("bernd", "channel.add_post")
    with pytest.raises(PostActionRefused, match="Nur die Verfasserin"):
        do_save_draft(author=other, post=post, kind="normal", topics=[], versions=GERMAN)
    do_save_draft(author=editor("carla"), post=post, kind="normal", topics=[], versions=GERMAN)
    assert [action for action, *_ in trail(post)] == ["drafted", "edited"]


def test_urgent_alert_goes_out_without_approval_and_waits_for_a_review(
    time_machine, django_capture_on_commit_callbacks, fake_cloud_api
):
    # given: 23:30 in Berlin, quiet hours
    from datetime import datetime, timedelta, timezone

    time_machine.move_to(datetime(2027, 6, 16, 23, 30, tzinfo=timezone(timedelta(hours=2))))
    citizens(2, topic_slugs=["dringend"], window_open=True)
    author = editor()
    alert = do_save_draft(
        author=author,
        kind=Post.Kind.URGENT,
        topics=topics("dringend"),
        versions={"de": ("Trinkwasser abkochen", "Bitte Leitungswasser abkochen.")},
    )
    sender = staff("lagezentrum", "channel.send_urgent", "channel.approve_post")
    reviewer = approver("pressestelle")

    with django_capture_on_commit_callbacks(execute=True):
        do_send_urgent_now(alert, actor=sender)
    do_start_due_posts()

    alert.refresh_from_db()
    assert alert.state == Post.State.SENT
    assert alert.needs_review_after is True
    assert len(fake_cloud_api.requests) == 2
    message = assert_refused(do_record_review_after, alert, Post.State.SENT, actor=sender)
    assert message == "Diese Meldung muss jemand anderes als die sendende Person prüfen."
    do_record_review_after(alert, actor=reviewer, comment="Richtig so.")
    assert alert.needs_review_after is False
    assert [action for action, *_ in trail(alert)][-2:] == ["finished", "reviewed_after"]
    assert ("urgent_sent", "lagezentrum", "") in trail(alert)


def test_normal_post_cannot_be_sent_as_urgent():
    post = draft(editor())
    sender = staff("lagezentrum", "channel.send_urgent")
    message = assert_refused(do_send_urgent_now, post, Post.State.DRAFT, actor=sender)
    assert message == "Nur dringende Meldungen können ohne Freigabe gesendet werden."


def test_author_may_cancel_own_draft_but_not_an_approved_post():
    author = editor()
    post = draft(author)
    do_cancel(post, actor=author)
    assert post.state == Post.State.CANCELLED
    assert post.events.filter(action=PostEvent.Action.CANCELLED, actor=author).exists()
