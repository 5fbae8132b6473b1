"""Every state change of the info channel: drafting, approval, sending, pausing.

Views, the ``publish_post`` command and the worker call these functions; nothing else saves
``Post``, ``PostVersion``, ``PostEvent`` or ``PostDelivery`` rows. Each raises
``PostActionRefused`` (a message for the user) on a forbidden step or a missing permission,
and records a ``PostEvent`` with who and when.

The life of a post::

    draft ─submit→ in_review ─approve→ approved ─(send_at, not in quiet hours)→ sending → sent
      ↑               │                   │                                    │  ↑
      └─ changes_requested ←─request_changes   urgent: draft/in_review/… ─send now┘  pause/resume
    cancel: from every state before ``sent``.

Approval is four-eyes: an author cannot approve their own post, unless nobody else holds
``channel.approve_post`` (a small town's single press officer). An urgent alert
(``channel.send_urgent``) goes out at once without approval and shows "review after
sending" until someone with ``channel.approve_post`` records the review.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from townhall.audit.actions import Action as AuditAction
from townhall.audit.actions import do_audit
from townhall.channel import digest, limits
from townhall.channel.audience import plan_audience, post_recipients
from townhall.channel.models import (
    POLL_BUTTON_TITLE_MAX_CHARS,
    POLL_BUTTONS_MAX_OPTIONS,
    POLL_MAX_OPTIONS,
    POLL_MIN_OPTIONS,
    POLL_QUESTION_MAX_CHARS,
    POLL_ROW_TITLE_MAX_CHARS,
    POLL_SECOND_LANGUAGE,
    Digest,
    DigestDelivery,
    Poll,
    PollOption,
    Post,
    PostDelivery,
    PostEvent,
    PostLinkOpen,
    PostVersion,
)
from townhall.channel.schedule import quiet_hours_end
from townhall.channel.sending_rule import (
    WINDOW_MARGIN,
    DigestSender,
    PostSender,
    audience_template,
)
from townhall.citizens.models import Citizen, Topic, TopicSubscription
from townhall.core import clock
from townhall.whatsapp.actions import (
    PreparedMessage,
    do_cancel_unsent_messages,
    do_hold_messages,
    do_queue_prepared_messages,
    do_refresh_message_statistics,
    do_release_held_messages,
)
from townhall.whatsapp.models import Message, MessageTemplate
from townhall.whatsapp.outbound import InvalidOutboundMessage
from townhall.whatsapp.policy import Purpose
from townhall.whatsapp.service_window import SERVICE_WINDOW, open_window_cutoff

logger = logging.getLogger(__name__)

# Citizens decided per fan-out transaction: one audience query, one bulk insert of messages
# and one of deliveries (~2 MB of rows); a crash loses at most this chunk's uncommitted work.
FAN_OUT_CHUNK = 2000
# A fan-out task hands its worker thread back after this long and queues itself again, so
# replies and status webhooks are not stuck behind a 100,000-citizen fan-out.
FAN_OUT_SLICE_SECONDS = 5.0
# Meta's time-to-live range for utility templates: 30 s to 12 h.
VALID_FOR_MIN_SECONDS = 30
VALID_FOR_MAX_SECONDS = 12 * 3600
TITLE_MAX_CHARS = 120

EDITABLE = (Post.State.DRAFT, Post.State.CHANGES_REQUESTED)
BEFORE_SENDING = (
    Post.State.DRAFT,
    Post.State.IN_REVIEW,
    Post.State.CHANGES_REQUESTED,
    Post.State.APPROVED,
)
# Messages of a post that have not been handed over to Meta yet.
NOT_HANDED_OVER = (
    Message.Status.QUEUED,
    Message.Status.HELD,
    Message.Status.SENDING,
    Message.Status.UNCONFIRMED,
)


class PostActionRefused(ValueError):
    """The step is not allowed (state or permission); ``message`` is for the user."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = str(message)


# --- helpers ------------------------------------------------------------------------------------


# The post events that the audit log keeps too (without comments: they are free text).
AUDITED_EVENTS = {
    PostEvent.Action.DRAFTED: AuditAction.POST_DRAFTED,
    PostEvent.Action.EDITED: AuditAction.POST_DRAFTED,
    PostEvent.Action.SUBMITTED: AuditAction.POST_SUBMITTED,
    PostEvent.Action.APPROVED: AuditAction.POST_APPROVED,
    PostEvent.Action.CHANGES_REQUESTED: AuditAction.POST_RETURNED,
    PostEvent.Action.URGENT_SENT: AuditAction.POST_SENT,
    PostEvent.Action.SENDING_STARTED: AuditAction.POST_SENT,
    PostEvent.Action.REVIEWED_AFTER: AuditAction.POST_APPROVED,
    PostEvent.Action.PAUSED: AuditAction.POST_CANCELLED,
    PostEvent.Action.RESUMED: AuditAction.POST_CANCELLED,
    PostEvent.Action.CANCELLED: AuditAction.POST_CANCELLED,
}


def _record(post: Post, action: str, actor: Any, comment: str = "") -> PostEvent:
    """The post's own trail, and for the events that matter the audit log."""
    event = PostEvent.objects.create(
        post=post, action=action, actor=actor, comment=comment, created_at=clock.now()
    )
    audit_action = AUDITED_EVENTS.get(PostEvent.Action(action))
    if audit_action is not None:
        do_audit(
            audit_action,
            acting_user=actor,
            target=post,
            details={"event": str(action), "kind": post.kind},
            actor_name="" if actor is not None else "system",
        )
    return event


def _require_permission(actor: Any, permission: str) -> None:
    if actor is None or not actor.is_active or not actor.has_perm(permission):
        raise PostActionRefused(_("You are not allowed to do this."))


def _require_state(post: Post, states: Iterable[str], message: Any) -> None:
    if post.state not in states:
        raise PostActionRefused(message)


def _locked(post: Post) -> Post:
    """The post again, row-locked for the caller's transaction (state checks see the truth)."""
    return Post.objects.select_for_update().get(pk=post.pk)


def _is_sole_approver(actor: Any) -> bool:
    others = (
        get_user_model()
        .objects.with_perm(  # type: ignore[attr-defined]
            "channel.approve_post",
            is_active=True,
            # The backend that knows roles (django-axes' backend only throttles logins).
            backend="django.contrib.auth.backends.ModelBackend",
        )
        .exclude(pk=actor.pk)
    )
    return not others.exists()


def _require_four_eyes(actor: Any, person: Any) -> None:
    if person is not None and person.pk == actor.pk and not _is_sole_approver(actor):
        raise PostActionRefused(_("Someone other than the author has to approve this post."))


def _enqueue_on_commit(task_name: str, *args: Any) -> None:
    def enqueue() -> None:
        from townhall.channel import tasks  # tasks import this module

        getattr(tasks, task_name)(*args)

    transaction.on_commit(enqueue)


def _sync_refresh(post: Post, fresh: Post) -> Post:
    """Copy the locked row's fields onto the caller's instance, so it sees the change."""
    post.__dict__.update({k: v for k, v in fresh.__dict__.items() if not k.startswith("_")})
    post._state.fields_cache.clear()  # related objects may have changed (approved_by …)
    return post


# --- drafting and approval ----------------------------------------------------------------------


def _check_versions(versions: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    known = {code for code, _name in settings.LANGUAGES}
    cleaned: dict[str, tuple[str, str]] = {}
    for language, (title, text) in versions.items():
        if language not in known:
            raise PostActionRefused(_("Unknown language: %(language)s") % {"language": language})
        title, text = (title or "").strip(), (text or "").strip()
        if not title and not text:
            continue
        if not title or not text:
            raise PostActionRefused(_("Each language version needs a title and a text."))
        if len(title) > TITLE_MAX_CHARS:
            raise PostActionRefused(
                _("The title has %(count)d characters, at most %(max)d.")
                % {"count": len(title), "max": TITLE_MAX_CHARS}
            )
        cleaned[language] = (title, text)
    if "de" not in cleaned:
        raise PostActionRefused(_("The German version needs a title and a text."))
    return cleaned


@dataclass(frozen=True)
class PollDraft:
    """A poll as staff wrote it: the question, the options in order, an optional end, and
    optional English texts for the post's English version: ``options_en[i]`` belongs to
    ``options[i]``, an empty English text means the German one."""

    question: str
    options: Sequence[str]
    closes_at: datetime | None = None
    question_en: str = ""
    options_en: Sequence[str] = ()

    @property
    def has_english(self) -> bool:
        return bool(self.question_en) or any(self.options_en)


class PollRefused(PostActionRefused):
    """``check_poll``'s refusal; ``field`` names the text it is about: ``question``,
    ``options``, ``question_en`` or ``options_en``."""

    def __init__(self, message: Any, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def _one_line(option: str) -> str:
    return " ".join((option or "").split())


def _check_poll_options(options: Sequence[str], field: str) -> None:
    """The options' lengths (buttons or list rows, by their number) and their uniqueness."""
    # Up to three options go as reply buttons (20 characters), more as a list (24).
    max_chars = (
        POLL_BUTTON_TITLE_MAX_CHARS
        if len(options) <= POLL_BUTTONS_MAX_OPTIONS
        else POLL_ROW_TITLE_MAX_CHARS
    )
    for option in options:
        if len(option) > max_chars:
            raise PollRefused(
                _(
                    "The option “%(option)s” has %(count)d characters; WhatsApp shows at most %(max)d."
                )
                % {"option": option, "count": len(option), "max": max_chars},
                field=field,
            )
    if len({option.casefold() for option in options}) != len(options):
        raise PollRefused(_("Each option of the poll must be different."), field=field)


def _check_question(question: str, field: str) -> None:
    if len(question) > POLL_QUESTION_MAX_CHARS:
        raise PollRefused(
            _("The question has %(count)d characters, at most %(max)d.")
            % {"count": len(question), "max": POLL_QUESTION_MAX_CHARS},
            field=field,
        )


def check_poll(poll: PollDraft) -> PollDraft:
    """The poll cleaned, or ``PollRefused`` naming what breaks WhatsApp's limits.

    Empty German lines are dropped with their English line; the English options come back
    as long as the German ones (empty = the German option). English texts follow the same
    limits, counted as citizens see them (with the German fallback)."""
    question = (poll.question or "").strip()
    if not question:
        raise PollRefused(_("The poll needs a question."), field="question")
    _check_question(question, "question")
    raw_english = list(poll.options_en)
    options: list[str] = []
    options_en: list[str] = []
    for line, german in enumerate(poll.options, start=1):
        english = _one_line(raw_english[line - 1]) if line <= len(raw_english) else ""
        if not _one_line(german):
            if english:
                raise PollRefused(
                    _("Line %(line)d of the English options has no German option.")
                    % {"line": line},
                    field="options_en",
                )
            continue
        options.append(_one_line(german))
        options_en.append(english)
    if any(_one_line(english) for english in raw_english[len(poll.options) :]):
        raise PollRefused(_("There are more English options than German ones."), field="options_en")
    if not POLL_MIN_OPTIONS <= len(options) <= POLL_MAX_OPTIONS:
        raise PollRefused(
            _("A poll has %(min)d to %(max)d options.")
            % {"min": POLL_MIN_OPTIONS, "max": POLL_MAX_OPTIONS},
            field="options",
        )
    _check_poll_options(options, "options")
    question_en = (poll.question_en or "").strip()
    _check_question(question_en, "question_en")
    if any(options_en):
        _check_poll_options(
            [english or german for german, english in zip(options, options_en, strict=True)],
            "options_en",
        )
    return PollDraft(question, options, poll.closes_at, question_en, options_en)


def _check_poll_languages(poll: PollDraft | None, versions: dict[str, tuple[str, str]]) -> None:
    """English poll texts go to the citizens who get the post's English version: without
    one nobody would read them."""
    if poll is not None and poll.has_english and POLL_SECOND_LANGUAGE not in versions:
        raise PollRefused(
            _("English texts of the poll need an English version of the post."),
            field="question_en" if poll.question_en else "options_en",
        )


def _save_poll(post: Post, poll: PollDraft | None) -> None:
    """Replace the post's poll by ``poll`` (None removes it), with its English texts. Caller
    holds the post's lock and the post is a draft, so no answers exist yet."""
    Poll.objects.filter(post=post).delete()
    if poll is None:
        return
    saved = Poll.objects.create(
        post=post, question=poll.question, question_en=poll.question_en, closes_at=poll.closes_at
    )
    options_en = list(poll.options_en) + [""] * (len(poll.options) - len(poll.options_en))
    PollOption.objects.bulk_create(
        [
            PollOption(poll=saved, position=position, title=title, title_en=title_en)
            for position, (title, title_en) in enumerate(
                zip(poll.options, options_en, strict=True), start=1
            )
        ]
    )


def do_save_draft(
    *,
    author: Any,
    post: Post | None = None,
    kind: str,
    topics: Iterable[Topic],
    versions: dict[str, tuple[str, str]],
    template: MessageTemplate | None = None,
    send_at: datetime | None = None,
    valid_for_seconds: int | None = None,
    attachment: Any = None,
    poll: PollDraft | None = None,
) -> Post:
    """Create (``post=None``) or update a draft. Needs ``channel.add_post``; only drafts and
    posts sent back are editable, by their author or someone with ``channel.change_post``.

    ``versions``: language -> (title, text); German is required; languages left out are
    removed. ``attachment``: a file to attach, ``""`` to remove it, None to keep it.
    ``poll``: the post's poll (None: the post has none).
    """
    _require_permission(author, "channel.add_post")
    if kind not in Post.Kind.values:
        raise PostActionRefused(_("Unknown kind of post."))
    cleaned = _check_versions(versions)
    if valid_for_seconds is not None and not (
        VALID_FOR_MIN_SECONDS <= valid_for_seconds <= VALID_FOR_MAX_SECONDS
    ):
        raise PostActionRefused(
            _("A post is valid for 30 seconds to 12 hours (Meta's time-to-live).")
        )
    topic_list = list(topics)
    now = clock.now()
    if poll is not None:
        poll = check_poll(poll)
        _check_poll_languages(poll, cleaned)
        if poll.closes_at is not None and poll.closes_at <= now:
            raise PostActionRefused(_("The poll's closing time has passed."))
    with transaction.atomic():
        if post is None:
            post = Post(author=author, created_at=now)
            action = PostEvent.Action.DRAFTED
        else:
            fresh = _locked(post)
            _require_state(fresh, EDITABLE, _("Only drafts and posts sent back can be edited."))
            if fresh.author_id != author.pk and not author.has_perm("channel.change_post"):
                raise PostActionRefused(_("Only the author can edit this draft."))
            post = _sync_refresh(post, fresh)
            action = PostEvent.Action.EDITED
        post.kind = kind
        post.template = template
        post.send_at = send_at
        post.valid_for_seconds = valid_for_seconds
        if attachment is not None:
            post.attachment = attachment or ""
        if poll is not None and post.attachment:
            # Buttons and lists carry text only: the poll's message has no room for a file.
            raise PostActionRefused(_("A post with a poll cannot have an image or document."))
        post.updated_at = now
        post.save()
        _save_poll(post, poll)
        post.topics.set(topic_list)
        post.versions.exclude(language__in=cleaned).delete()
        for language, (title, text) in cleaned.items():
            PostVersion.objects.update_or_create(
                post=post, language=language, defaults={"title": title, "text": text}
            )
        _record(post, action, author)
    return post


def do_submit_for_approval(post: Post, *, actor: Any) -> None:
    """The author (or an editor) asks for approval."""
    _require_permission(actor, "channel.add_post")
    with transaction.atomic():
        fresh = _locked(post)
        _require_state(fresh, EDITABLE, _("Only drafts and posts sent back can be submitted."))
        fresh.state = Post.State.IN_REVIEW
        fresh.updated_at = clock.now()
        fresh.save(update_fields=["state", "updated_at"])
        _record(fresh, PostEvent.Action.SUBMITTED, actor)
    _sync_refresh(post, fresh)


def _limit_refusal(post: Post) -> str | None:
    """Why a normal post cannot go now because of the messaging limit, with the plan."""
    plan = plan_audience(
        topics=post.topics.all(),
        kind=post.kind,
        template=audience_template(post),
        languages=post.versions.values_list("language", flat=True),
    )
    if plan.template_later == 0:
        return None
    later = clock_local(plan.template_later_from)
    return gettext(
        "Today's messaging limit is reached: this post needs %(needed)d template messages, "
        "%(now)d are possible now. Send it to %(now)d now and the other %(later)d after "
        "%(later_from)s, or ask for a higher messaging limit."
    ) % {
        "needed": plan.as_template,
        "now": plan.template_now,
        "later": plan.template_later,
        "later_from": later,
    }


def _require_sendable(post: Post) -> None:
    """Build the post's messages once (every language, free text and template) so a post
    that Meta would refuse is refused here, with the reason, not after it was queued."""
    sender = PostSender.for_post(post)
    try:
        for language in sender.versions:
            sender.message(language, as_template=False)
            if sender.can_use_template:
                sender.message(language, as_template=True)
    except InvalidOutboundMessage as error:
        raise PostActionRefused(str(error)) from error


def clock_local(value: datetime | None) -> str:
    from django.utils import timezone

    return timezone.localtime(value).strftime("%d.%m.%Y %H:%M") if value else "-"


def do_approve(
    post: Post, *, actor: Any, comment: str = "", send_rest_after_limit: bool = False
) -> None:
    """Approve a post waiting for approval; it goes out at ``send_at`` (or at once, but a
    normal post not during quiet hours). When the messaging limit cannot take all its
    template recipients today it is refused with the plan (how many now, how many later),
    unless the approver accepts that plan with ``send_rest_after_limit``: then what fits
    goes now and the rest is queued for after the 24-hour window, automatically."""
    _require_permission(actor, "channel.approve_post")
    with transaction.atomic():
        fresh = _locked(post)
        _require_state(
            fresh, [Post.State.IN_REVIEW], _("Only posts waiting for approval can be approved.")
        )
        _require_four_eyes(actor, fresh.author)
        _require_sendable(fresh)
        if fresh.kind == Post.Kind.NORMAL and not send_rest_after_limit:
            refusal = _limit_refusal(fresh)
            if refusal:
                raise PostActionRefused(refusal)
        fresh.send_rest_after_limit = send_rest_after_limit
        now = clock.now()
        fresh.state = Post.State.APPROVED
        fresh.approved_by = actor
        fresh.approved_at = now
        fresh.review_comment = comment
        fresh.updated_at = now
        fresh.save(
            update_fields=[
                "state",
                "approved_by",
                "approved_at",
                "review_comment",
                "updated_at",
                "send_rest_after_limit",
            ]
        )
        _record(fresh, PostEvent.Action.APPROVED, actor, comment)
        _enqueue_on_commit("start_due_posts")
    _sync_refresh(post, fresh)


def do_request_changes(post: Post, *, actor: Any, comment: str) -> None:
    """Send a post back to its author with a comment saying why."""
    _require_permission(actor, "channel.approve_post")
    comment = (comment or "").strip()
    if not comment:
        raise PostActionRefused(_("Please say what should be changed."))
    with transaction.atomic():
        fresh = _locked(post)
        _require_state(
            fresh, [Post.State.IN_REVIEW], _("Only posts waiting for approval can be sent back.")
        )
        fresh.state = Post.State.CHANGES_REQUESTED
        fresh.review_comment = comment
        fresh.updated_at = clock.now()
        fresh.save(update_fields=["state", "review_comment", "updated_at"])
        _record(fresh, PostEvent.Action.CHANGES_REQUESTED, actor, comment)
    _sync_refresh(post, fresh)


def do_send_urgent_now(post: Post, *, actor: Any) -> None:
    """Send an urgent alert at once, without prior approval (``channel.send_urgent``);
    quiet hours, ``send_at`` and the messaging limit do not hold it. The post then needs a
    review afterwards (``do_record_review_after``)."""
    _require_permission(actor, "channel.send_urgent")
    with transaction.atomic():
        fresh = _locked(post)
        if fresh.kind != Post.Kind.URGENT:
            raise PostActionRefused(_("Only urgent alerts can be sent without approval."))
        _require_state(fresh, BEFORE_SENDING, _("This post has already been sent or cancelled."))
        _require_sendable(fresh)
        fresh.needs_review_after = fresh.approved_by_id is None
        _record(fresh, PostEvent.Action.URGENT_SENT, actor)
        _start_sending(fresh)
    _sync_refresh(post, fresh)


def do_record_review_after(post: Post, *, actor: Any, comment: str = "") -> None:
    """Record the review of an urgent alert sent without approval."""
    _require_permission(actor, "channel.approve_post")
    with transaction.atomic():
        fresh = _locked(post)
        if not fresh.needs_review_after:
            raise PostActionRefused(_("This post does not wait for a review."))
        sender = (
            fresh.events.filter(action=PostEvent.Action.URGENT_SENT)
            .values_list("actor", flat=True)
            .first()
        )
        if sender == actor.pk and not _is_sole_approver(actor):
            raise PostActionRefused(_("Someone other than the sender has to review this alert."))
        fresh.needs_review_after = False
        fresh.save(update_fields=["needs_review_after"])
        _record(fresh, PostEvent.Action.REVIEWED_AFTER, actor, comment)
    _sync_refresh(post, fresh)


def do_publish_post(
    *,
    kind: str,
    topics: Iterable[Topic],
    versions: dict[str, tuple[str, str]],
    template: MessageTemplate | None = None,
    valid_for_seconds: int | None = None,
    comment: str = "publish_post command",
    poll: PollDraft | None = None,
) -> Post:
    """The system path (management command, official warnings later): an approved post
    without a person, recorded with ``comment`` and no actor. Urgent alerts start at once;
    normal posts follow quiet hours and the messaging limit like any approved post."""
    cleaned = _check_versions(versions)
    poll = check_poll(poll) if poll is not None else None
    _check_poll_languages(poll, cleaned)
    now = clock.now()
    with transaction.atomic():
        post = Post.objects.create(
            kind=kind,
            template=template,
            valid_for_seconds=valid_for_seconds,
            state=Post.State.APPROVED,
            approved_at=now,
            created_at=now,
            updated_at=now,
        )
        post.topics.set(list(topics))
        PostVersion.objects.bulk_create(
            [
                PostVersion(post=post, language=language, title=title, text=text)
                for language, (title, text) in cleaned.items()
            ]
        )
        _save_poll(post, poll)
        _require_sendable(post)
        _record(post, PostEvent.Action.DRAFTED, None, comment)
        _record(post, PostEvent.Action.APPROVED, None, comment)
        if kind == Post.Kind.URGENT:
            _start_sending(post)
        else:
            _enqueue_on_commit("start_due_posts")
    return post


# --- pause, resume, cancel ----------------------------------------------------------------------


def _require_sending_control(actor: Any) -> None:
    if actor is None or not (
        actor.has_perm("channel.approve_post") or actor.has_perm("channel.send_urgent")
    ):
        raise PostActionRefused(_("You are not allowed to do this."))


def _post_messages(post: Post) -> Any:
    return PostDelivery.objects.filter(post=post, message__isnull=False).values("message_id")


def do_pause(post: Post, *, actor: Any) -> None:
    """Stop a running broadcast: messages not yet handed over wait until resumed."""
    _require_sending_control(actor)
    with transaction.atomic():
        fresh = _locked(post)
        _require_state(fresh, [Post.State.SENDING], _("Only a post being sent can be paused."))
        fresh.state = Post.State.PAUSED
        fresh.save(update_fields=["state"])
        held = do_hold_messages(_post_messages(fresh))
        _record(fresh, PostEvent.Action.PAUSED, actor)
    logger.info("channel.paused post=%s held=%d", post.pk, held)
    _sync_refresh(post, fresh)


def do_resume(post: Post, *, actor: Any) -> None:
    """Continue a paused broadcast where it stopped."""
    _require_sending_control(actor)
    with transaction.atomic():
        fresh = _locked(post)
        _require_state(fresh, [Post.State.PAUSED], _("Only a paused post can be resumed."))
        fresh.state = Post.State.SENDING
        fresh.save(update_fields=["state"])
        do_release_held_messages(_post_messages(fresh))
        _record(fresh, PostEvent.Action.RESUMED, actor)
        if fresh.fan_out_finished_at is None:
            _enqueue_on_commit("fan_out_post", fresh.pk)
        _enqueue_on_commit("finish_post_when_handed_over", fresh.pk)
    _sync_refresh(post, fresh)


def do_cancel(post: Post, *, actor: Any) -> None:
    """Cancel a post before or while it is sent: nothing more goes out. The author may
    cancel their own unapproved post; otherwise it needs approve or urgent permission."""
    with transaction.atomic():
        fresh = _locked(post)
        is_own_unapproved = (
            actor is not None
            and fresh.author_id == actor.pk
            and fresh.state
            in (Post.State.DRAFT, Post.State.IN_REVIEW, Post.State.CHANGES_REQUESTED)
        )
        if not is_own_unapproved:
            _require_sending_control(actor)
        _require_state(
            fresh,
            (*BEFORE_SENDING, Post.State.SENDING, Post.State.PAUSED),
            _("This post has already been sent or cancelled."),
        )
        now = clock.now()
        fresh.state = Post.State.CANCELLED
        fresh.finished_at = now
        fresh.updated_at = now
        fresh.save(update_fields=["state", "finished_at", "updated_at"])
        cancelled = do_cancel_unsent_messages(_post_messages(fresh), "the post was cancelled")
        _record(fresh, PostEvent.Action.CANCELLED, actor)
    logger.info("channel.cancelled post=%s messages=%d", post.pk, cancelled)
    _sync_refresh(post, fresh)


# --- sending ------------------------------------------------------------------------------------


def _start_sending(post: Post) -> None:
    """Caller holds the post's row lock. Fan-out starts after commit."""
    now = clock.now()
    post.state = Post.State.SENDING
    post.sending_started_at = post.sending_started_at or now
    post.published_at = post.published_at or now
    post.updated_at = now
    post.save(
        update_fields=[
            "state",
            "sending_started_at",
            "published_at",
            "updated_at",
            "needs_review_after",
        ]
    )
    _record(post, PostEvent.Action.SENDING_STARTED, None)
    _enqueue_on_commit("fan_out_post", post.pk)
    _enqueue_on_commit("finish_post_when_handed_over", post.pk)
    logger.info("channel.sending_started post=%s kind=%s", post.pk, post.kind)


def _last_action(post: Post) -> str | None:
    return post.events.order_by("-created_at", "-id").values_list("action", flat=True).first()


def do_start_due_posts() -> int:
    """Start approved posts whose time has come (urgent ones first); hold normal posts
    during quiet hours and while the messaging limit cannot take them; pick up fan-outs a
    crash interrupted and mark finished posts sent. Returns the number started."""
    now = clock.now()
    started = 0
    in_quiet_hours = quiet_hours_end(now) is not None
    due = (
        Post.objects.filter(state=Post.State.APPROVED)
        .filter(Q(send_at__isnull=True) | Q(send_at__lte=now))
        .order_by("-kind", "approved_at", "pk")  # "urgent" sorts after "normal"
        .values_list("pk", flat=True)
    )
    for post_id in due:
        with transaction.atomic():
            post = (
                Post.objects.select_for_update()
                .filter(pk=post_id, state=Post.State.APPROVED)
                .first()
            )
            if post is None:
                continue
            if post.kind == Post.Kind.NORMAL:
                hold = None
                if in_quiet_hours:
                    hold = PostEvent.Action.HELD_QUIET_HOURS
                elif not post.send_rest_after_limit and _limit_refusal(post):
                    hold = PostEvent.Action.HELD_MESSAGING_LIMIT
                if hold is not None:
                    if _last_action(post) != hold:
                        _record(post, hold, None)
                    continue
            _start_sending(post)
            started += 1
    for post_id in Post.objects.filter(
        state=Post.State.SENDING, fan_out_finished_at__isnull=True
    ).values_list("pk", flat=True):
        _enqueue_on_commit("fan_out_post", post_id)
    do_finish_handed_over_posts()
    return started


def do_fan_out_post(post_id: int, seconds: float = FAN_OUT_SLICE_SECONDS) -> bool:
    """Queue the post for its audience, chunk by chunk, for about ``seconds``; True if
    work is left (the task queues itself again). Safe to run again after a crash, or twice
    at once: each chunk locks the post and continues after its cursor, and the unique
    (post, citizen) delivery makes a second message for anyone impossible."""
    deadline = time.monotonic() + seconds
    is_first = True
    while time.monotonic() < deadline:
        # Dispatchers are started by the first and the last chunk of each run: started
        # ones keep going while work is queued, so one start per chunk would only pile up
        # dispatcher tasks.
        if not _fan_out_chunk(post_id, start_dispatchers=is_first):
            return False
        is_first = False
    return True


def _fan_out_chunk(
    post_id: int, size: int = FAN_OUT_CHUNK, *, start_dispatchers: bool = True
) -> bool:
    """Decide and queue the next ``size`` citizens; False when nothing is left to do.

    Constant queries per chunk: lock, versions, templates, audience, consent (per topic),
    two bulk inserts, cursor update.
    """
    now = clock.now()
    with transaction.atomic():
        post = (
            Post.objects.select_for_update()
            .filter(pk=post_id, state=Post.State.SENDING, fan_out_finished_at__isnull=True)
            .first()
        )
        if post is None:
            return False
        sender = PostSender.for_post(post)
        slugs = list(post.topics.values_list("slug", flat=True))
        first_topic = (
            TopicSubscription.objects.filter(
                citizen=OuterRef("pk"), topic__slug__in=slugs, is_active=True
            )
            .order_by("topic__position", "topic__id")
            .values("topic__slug")[:1]
        )
        audience = (
            post_recipients(slugs, post.kind)
            .filter(pk__gt=post.fan_out_cursor)
            # Belt and braces beside the cursor: nobody who has a delivery is taken again.
            .exclude(Exists(PostDelivery.objects.filter(post=post, citizen=OuterRef("pk"))))
            .order_by("pk")
        )
        if slugs:
            audience = audience.annotate(first_topic=Subquery(first_topic))
        rows = list(
            audience.values(
                "pk", "wa_id", "language", "last_inbound_at", *(["first_topic"] if slugs else [])
            )[:size]
        )
        if not rows:
            post.fan_out_finished_at = now
            post.save(update_fields=["fan_out_finished_at"])
            logger.info("channel.fan_out_finished post=%s", post.pk)
            return False
        cutoff = open_window_cutoff(now, open_for=WINDOW_MARGIN)
        limit_split = _LimitSplit.for_post(post, now)
        messages: dict[tuple[str, bool], Any] = {}
        prepared: list[PreparedMessage] = []
        planned: list[tuple[int, str, bool]] = []
        skipped = 0
        for row in rows:
            window_open = row["last_inbound_at"] is not None and row["last_inbound_at"] > cutoff
            choice = sender.choose(row["language"], window_open=window_open)
            if choice is None:
                skipped += 1
                continue
            if choice not in messages:
                language, as_template = choice
                try:
                    messages[choice] = sender.message(language, as_template=as_template)
                except InvalidOutboundMessage as error:
                    logger.error("channel.invalid_message post=%s error=%s", post.pk, error)
                    raise
            prepared.append(
                PreparedMessage(
                    row["wa_id"],
                    messages[choice],
                    topic=row.get("first_topic") or "",
                    not_before=limit_split.not_before() if choice[1] else None,
                )
            )
            planned.append((row["pk"], *choice))
        expires_at = (
            post.sending_started_at + timedelta(seconds=post.valid_for_seconds)
            if post.valid_for_seconds and post.sending_started_at
            else None
        )
        priority = (
            Message.Priority.URGENT if post.kind == Post.Kind.URGENT else Message.Priority.BULK
        )
        ids = do_queue_prepared_messages(
            prepared,
            purpose=Purpose.INFO,
            priority=priority,
            expires_at=expires_at,
            start_dispatchers=start_dispatchers or len(rows) < size,
        )
        PostDelivery.objects.bulk_create(
            [
                PostDelivery(
                    post=post,
                    citizen_id=citizen_id,
                    message_id=message_id,
                    language=language,
                    as_template=as_template,
                    created_at=now,
                )
                for (citizen_id, language, as_template), message_id in zip(
                    planned, ids, strict=True
                )
                if message_id is not None
            ],
            batch_size=FAN_OUT_CHUNK,
        )
        if post.fan_out_cursor == 0 and len(rows) == size:
            # The first chunk of a big fan-out: the dispatchers start now, on fresh plans.
            do_refresh_message_statistics()
        post.fan_out_cursor = rows[-1]["pk"]
        post.skipped_without_template += skipped
        post.deferred_for_limit = limit_split.deferred
        fields = ["fan_out_cursor", "skipped_without_template", "deferred_for_limit"]
        if len(rows) < size:
            post.fan_out_finished_at = now
            fields.append("fan_out_finished_at")
        post.save(update_fields=fields)
    logger.info(
        "channel.fan_out_chunk post=%s citizens=%d queued=%d skipped=%d",
        post_id,
        len(rows),
        sum(1 for message_id in ids if message_id is not None),
        skipped,
    )
    return len(rows) == size


class _LimitSplit:
    """For a post approved to go out over several days: the first template recipients up to
    today's capacity go now, the next ``limit`` a day after the window, and so on."""

    def __init__(self, *, capacity: int | None, limit: int | None, deferred: int, now: datetime):
        self.capacity, self.limit, self.deferred, self.now = capacity, limit, deferred, now

    @classmethod
    def for_post(cls, post: Post, now: datetime) -> _LimitSplit:
        if post.kind != Post.Kind.NORMAL or not post.send_rest_after_limit:
            return cls(capacity=None, limit=None, deferred=post.deferred_for_limit, now=now)
        limit = limits.messaging_limit()
        capacity = None if limit is None else limits.template_capacity_now(now)
        return cls(capacity=capacity, limit=limit, deferred=post.deferred_for_limit, now=now)

    def not_before(self) -> datetime | None:
        if self.capacity is None or self.limit is None:
            return None
        if self.capacity > 0:
            self.capacity -= 1
            return None
        days = 1 + self.deferred // self.limit
        self.deferred += 1
        # A minute after the messages sent now have left Meta's 24-hour window.
        return self.now + days * SERVICE_WINDOW + timedelta(minutes=1)


def do_finish_post_if_handed_over(post_id: int) -> bool | None:
    """Mark a sending post sent once it is fanned out and nothing is left to hand over.
    True: finished now; False: still sending; None: not sending (nothing to watch)."""
    with transaction.atomic():
        post = Post.objects.select_for_update().filter(pk=post_id).first()
        if post is None or post.state not in (Post.State.SENDING, Post.State.PAUSED):
            return None
        if post.state == Post.State.PAUSED:
            return None
        if post.fan_out_finished_at is None:
            return False
        if PostDelivery.objects.filter(post=post, message__status__in=NOT_HANDED_OVER).exists():
            return False
        now = clock.now()
        post.state = Post.State.SENT
        post.finished_at = now
        post.updated_at = now
        post.save(update_fields=["state", "finished_at", "updated_at"])
        _record(post, PostEvent.Action.FINISHED, None)
    logger.info("channel.sent post=%s", post_id)
    return True


def do_finish_handed_over_posts() -> int:
    """``do_finish_post_if_handed_over`` for every sending post; returns how many finished."""
    return sum(
        1
        for post_id in Post.objects.filter(state=Post.State.SENDING).values_list("pk", flat=True)
        if do_finish_post_if_handed_over(post_id)
    )


# --- the daily summary --------------------------------------------------------------------------

# Citizens per summary transaction: one audience query, topics and deliveries of the chunk,
# one bulk insert of messages and one of summary deliveries (as the post fan-out).
DIGEST_CHUNK = 2000


def do_send_due_digest(seconds: float = FAN_OUT_SLICE_SECONDS) -> bool:
    """Send the daily summary whose time has come (``digest.due_day``) to the citizens who
    chose it, chunk by chunk, for about ``seconds``; True if work is left (the task queues
    itself again). Called every minute: the ``Digest`` row of the day is unique and records
    where it stands, so a second run or a restarted worker continues, never repeats it.
    During quiet hours (a summary time inside them, or a worker that was down) it waits for
    their end, like a normal post."""
    now = clock.now()
    day = digest.due_day(now)
    if Digest.objects.filter(day=day, finished_at__isnull=False).exists():
        return False
    if quiet_hours_end(now) is not None:
        return False
    start, end = digest.period(day)
    with transaction.atomic():
        summary, created = Digest.objects.get_or_create(
            day=day, defaults={"period_start": start, "period_end": end, "started_at": now}
        )
    if created:
        logger.info("channel.digest_started day=%s", day.isoformat())
    deadline = time.monotonic() + seconds
    is_first = True
    while time.monotonic() < deadline:
        if not _digest_chunk(summary.pk, start_dispatchers=is_first):
            return False
        is_first = False
    return True


def _digest_chunk(
    digest_id: int, size: int = DIGEST_CHUNK, *, start_dispatchers: bool = True
) -> bool:
    """Build and queue the summary for the next ``size`` citizens who chose it; False when
    nothing is left. Citizens without a post of their topics that day get nothing."""
    now = clock.now()
    with transaction.atomic():
        summary = (
            Digest.objects.select_for_update()
            .filter(pk=digest_id, finished_at__isnull=True)
            .first()
        )
        if summary is None:
            return False
        posts = list(digest.digest_posts(summary.period_start, summary.period_end))
        rows = (
            list(
                digest.digest_recipients()
                .filter(pk__gt=summary.cursor)
                .exclude(
                    Exists(DigestDelivery.objects.filter(digest=summary, citizen=OuterRef("pk")))
                )
                .order_by("pk")
                .values("pk", "wa_id", "language", "last_inbound_at")[:size]
            )
            if posts
            else []
        )
        if not rows:
            summary.finished_at = now
            summary.post_count = len(posts)
            summary.save(update_fields=["finished_at", "post_count"])
            logger.info(
                "channel.digest_finished day=%s posts=%d", summary.day.isoformat(), len(posts)
            )
            return False
        citizen_ids = [row["pk"] for row in rows]
        topics_of: dict[int, set[str]] = {}
        for citizen_id, slug in TopicSubscription.objects.filter(
            citizen_id__in=citizen_ids, is_active=True
        ).values_list("citizen_id", "topic__slug"):
            topics_of.setdefault(citizen_id, set()).add(slug)
        # Posts a citizen already got on their own (e.g. before choosing the summary).
        already = set(
            PostDelivery.objects.filter(post__in=posts, citizen_id__in=citizen_ids).values_list(
                "citizen_id", "post_id"
            )
        )
        post_topics = {post.pk: {topic.slug for topic in post.topics.all()} for post in posts}
        sender = DigestSender.for_day(summary.day)
        cutoff = open_window_cutoff(now, open_for=WINDOW_MARGIN)
        # Templates count against Meta's messaging limit (free text in an open window does
        # not); what posts and alerts left of it today, this chunk's queued ones included.
        template_capacity = limits.template_capacity_now(now)
        messages: dict[tuple[str, bool, tuple[int, ...]], Any] = {}
        prepared: list[PreparedMessage] = []
        planned: list[tuple[int, str, bool, list[int]]] = []
        skipped = skipped_for_limit = 0
        for row in rows:
            chosen = topics_of.get(row["pk"], set())
            listed = [
                post
                for post in posts
                if (not post_topics[post.pk] or post_topics[post.pk] & chosen)
                and (row["pk"], post.pk) not in already
            ]
            if not listed:
                continue
            window_open = row["last_inbound_at"] is not None and row["last_inbound_at"] > cutoff
            choice = sender.choose(row["language"], window_open=window_open)
            if choice is None:
                skipped += 1
                continue
            language, as_template = choice
            if as_template and template_capacity is not None:
                if template_capacity == 0:
                    skipped_for_limit += 1
                    continue
                template_capacity -= 1
            key = (language, as_template, tuple(post.pk for post in listed))
            if key not in messages:
                messages[key] = sender.message(language, listed, as_template=as_template)
            prepared.append(PreparedMessage(row["wa_id"], messages[key]))
            planned.append((row["pk"], language, as_template, list(key[2])))
        ids = do_queue_prepared_messages(
            prepared,
            purpose=Purpose.INFO,
            priority=Message.Priority.BULK,
            start_dispatchers=start_dispatchers or len(rows) < size,
        )
        DigestDelivery.objects.bulk_create(
            [
                DigestDelivery(
                    digest=summary,
                    citizen_id=citizen_id,
                    message_id=message_id,
                    post_ids=post_ids,
                    language=language,
                    as_template=as_template,
                    created_at=now,
                )
                for (citizen_id, language, as_template, post_ids), message_id in zip(
                    planned, ids, strict=True
                )
                if message_id is not None
            ],
            batch_size=DIGEST_CHUNK,
        )
        summary.cursor = rows[-1]["pk"]
        summary.post_count = len(posts)
        summary.skipped_without_template += skipped
        summary.skipped_messaging_limit += skipped_for_limit
        fields = ["cursor", "post_count", "skipped_without_template", "skipped_messaging_limit"]
        if len(rows) < size:
            summary.finished_at = now
            fields.append("finished_at")
        summary.save(update_fields=fields)
    logger.info(
        "channel.digest_chunk day=%s citizens=%d queued=%d skipped=%d messaging_limit=%d",
        summary.day.isoformat(),
        len(rows),
        sum(1 for message_id in ids if message_id is not None),
        skipped,
        skipped_for_limit,
    )
    return len(rows) == size


# --- sharing ------------------------------------------------------------------------------------

_COUNT_LINK_OPEN = (
    f"INSERT INTO {PostLinkOpen._meta.db_table} (post_id, day, count)"  # noqa: S608
    " VALUES (%s, %s, 1)"
    " ON CONFLICT (post_id, day) DO UPDATE SET"
    f" count = {PostLinkOpen._meta.db_table}.count + 1"
)


def do_count_link_open(post: Post) -> None:
    """One more person opened the post's public page today (city time). A counter only:
    nothing about the visitor is stored. One statement, safe under concurrent requests."""
    with connection.cursor() as cursor:
        cursor.execute(
            _COUNT_LINK_OPEN, [post.pk, connection.ops.adapt_datefield_value(clock.today())]
        )


def do_merge_post_deliveries(citizen: Citizen, stranger: Citizen | None) -> None:
    """Number change (``CITIZEN_NUMBER_CHANGE_HANDLERS``): deliveries of the row that already
    had the new number become the citizen's, except for posts the citizen got already."""
    if stranger is None:
        return
    already = PostDelivery.objects.filter(citizen=citizen).values("post_id")
    PostDelivery.objects.filter(citizen=stranger, post_id__in=already).delete()
    PostDelivery.objects.filter(citizen=stranger).update(citizen=citizen)
