"""Every state change of polls: a citizen's answer, closing a poll, sending its results.

A poll is written with its post (``actions.do_save_draft(poll=...)``). Answers arrive as taps
on a reply button, a list row or a template quick reply whose id is
``poll:<poll id>:<position>``; the bot hands them to ``on_poll_choice`` (registered in
``settings.BOT_CHOICE_HANDLERS``) before any keyword handling, inside the transaction that
marks the inbound message handled, so the answer and the bot's confirmation are stored
together before the message counts as handled.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from townhall.channel import poll_queries
from townhall.channel.actions import PostActionRefused
from townhall.channel.models import (
    POLL_SECOND_LANGUAGE,
    Poll,
    PollAnswer,
    PollOption,
    Post,
    PostDelivery,
)
from townhall.channel.sending_rule import (
    DEFAULT_LANGUAGE,
    WINDOW_MARGIN,
    parse_poll_choice,
    version_language,
)
from townhall.citizens.models import Citizen
from townhall.core import clock
from townhall.core.privacy import redact
from townhall.whatsapp import outbound, templates
from townhall.whatsapp.actions import PreparedMessage, do_queue_prepared_messages
from townhall.whatsapp.models import Message
from townhall.whatsapp.policy import Purpose
from townhall.whatsapp.service_window import open_window_cutoff

logger = logging.getLogger(__name__)

# Participants sent the results per call of the sending layer: one bulk insert.
RESULTS_CHUNK = 1000
# The languages a poll's texts are written in (German, and optionally English).
POLL_LANGUAGES = (DEFAULT_LANGUAGE, POLL_SECOND_LANGUAGE)


class AnswerOutcome(enum.Enum):
    RECORDED = "recorded"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    # An older tap that arrived after a newer one: the newer answer stays.
    STALE = "stale"
    CLOSED = "closed"
    # No such poll or option, or the citizen never received the poll.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class AnswerResult:
    outcome: AnswerOutcome
    option: PollOption | None = None


def do_record_poll_answer(
    citizen: Citizen, poll_id: int, position: int, *, answered_at: datetime
) -> AnswerResult:
    """Record ``citizen``'s tap on option ``position`` of poll ``poll_id`` at
    ``answered_at`` (WhatsApp's timestamp of the tap): one answer per citizen and poll, a
    later tap replaces it, a tap at or after the closing time is refused. Only citizens the
    poll was sent to can answer it."""
    option = (
        PollOption.objects.select_related("poll").filter(poll_id=poll_id, position=position).first()
    )
    if (
        option is None
        or not PostDelivery.objects.filter(post_id=option.poll.post_id, citizen=citizen).exists()
    ):
        return AnswerResult(AnswerOutcome.UNKNOWN)
    poll = option.poll
    if poll.is_closed_at(answered_at):
        return AnswerResult(AnswerOutcome.CLOSED, option)
    language = version_language(set(POLL_LANGUAGES), citizen.language)
    with transaction.atomic():
        existing = PollAnswer.objects.select_for_update().filter(poll=poll, citizen=citizen).first()
        if existing is None:
            try:
                with transaction.atomic():
                    PollAnswer.objects.create(
                        poll=poll,
                        citizen=citizen,
                        option=option,
                        language=language,
                        first_answered_at=answered_at,
                        answered_at=answered_at,
                    )
                return AnswerResult(AnswerOutcome.RECORDED, option)
            except IntegrityError:
                # Another tap of the same citizen was stored a moment ago: change that one.
                existing = PollAnswer.objects.select_for_update().get(poll=poll, citizen=citizen)
        if answered_at < existing.answered_at:
            # An older tap that arrived late (webhooks may overtake each other): the newer
            # answer stays, but the citizen did answer earlier, and differently.
            if existing.option_id != option.pk or answered_at < existing.first_answered_at:
                existing.first_answered_at = min(existing.first_answered_at, answered_at)
                existing.changes += existing.option_id != option.pk
                existing.save(update_fields=["first_answered_at", "changes"])
            return AnswerResult(AnswerOutcome.STALE, existing.option)
        if existing.option_id == option.pk:
            return AnswerResult(AnswerOutcome.UNCHANGED, option)
        existing.option = option
        existing.answered_at = answered_at
        existing.language = language
        existing.changes += 1
        existing.save(update_fields=["option", "answered_at", "language", "changes"])
    return AnswerResult(AnswerOutcome.CHANGED, option)


def confirmation(result: AnswerResult, language: str = DEFAULT_LANGUAGE) -> str:
    """The bot's one line for a tap, in the active language; the option as the citizen saw
    it (its title in ``language``, the language of the post version they got)."""
    option = result.option.title_in(language) if result.option is not None else ""
    if result.outcome in (AnswerOutcome.RECORDED, AnswerOutcome.UNCHANGED):
        return gettext("Thank you! Your vote for “%(option)s” is counted.") % {"option": option}
    if result.outcome == AnswerOutcome.CHANGED:
        return gettext("Your vote is changed to “%(option)s”.") % {"option": option}
    if result.outcome == AnswerOutcome.STALE:
        return gettext("Your vote for “%(option)s” stays counted.") % {"option": option}
    if result.outcome == AnswerOutcome.CLOSED:
        return gettext("Sorry, this poll is closed. Thank you for your interest!")
    return gettext("Sorry, this poll is not available.")


def on_poll_choice(citizen: Citizen, choice_id: str, timestamp: datetime | None) -> str:
    """The bot's handler for a tapped ``poll:…`` id: record it, return the confirmation.
    Runs in the caller's transaction (the inbound message's handling)."""
    parsed = parse_poll_choice(choice_id)
    answered_at = min(timestamp, clock.now()) if timestamp is not None else clock.now()
    if parsed is None:
        result = AnswerResult(AnswerOutcome.UNKNOWN)
    else:
        result = do_record_poll_answer(citizen, *parsed, answered_at=answered_at)
    logger.info(
        "channel.poll_answer citizen=%s poll=%s outcome=%s",
        redact(citizen.wa_id),
        parsed[0] if parsed else "-",
        result.outcome.value,
    )
    # English poll texts exist only beside an English post version (``actions.check_poll``),
    # so the citizen's language with the German fallback is the version they got.
    return confirmation(result, version_language(set(POLL_LANGUAGES), citizen.language))


def _require_control(actor: Any) -> None:
    if actor is None or not (
        actor.has_perm("channel.approve_post") or actor.has_perm("channel.send_urgent")
    ):
        raise PostActionRefused(_("You are not allowed to do this."))


# States in which answers can still come in (after "sent" too, until the poll closes).
ANSWERABLE_STATES = (Post.State.SENDING, Post.State.PAUSED, Post.State.SENT)


def _locked_poll(post: Post) -> Poll:
    """The post's poll, locked for a change; caller holds a transaction."""
    poll = Poll.objects.select_for_update().filter(post=post).first()
    if poll is None:
        raise PostActionRefused(_("This post has no poll."))
    return poll


def do_close_poll(post: Post, *, actor: Any) -> Poll:
    """Close the post's poll now: taps from this second on get the "closed" reply."""
    _require_control(actor)
    with transaction.atomic():
        poll = _locked_poll(post)
        now = clock.now().replace(microsecond=0)
        if poll.is_closed_at(now):
            raise PostActionRefused(_("The poll is already closed."))
        if post.state not in ANSWERABLE_STATES:
            raise PostActionRefused(_("Only a poll that went out can be closed."))
        poll.closes_at = now
        poll.save(update_fields=["closes_at"])
    logger.info("channel.poll_closed post=%s", post.pk)
    return poll


def do_reopen_poll(post: Post, *, actor: Any) -> Poll:
    """Open a closed poll again, until it is closed by hand (closed too early, or by
    mistake): taps count again, also from those who got the "closed" reply. Not once the
    results went to the participants: they would no longer hold."""
    _require_control(actor)
    with transaction.atomic():
        poll = _locked_poll(post)
        if not poll.is_closed_at(clock.now()):
            raise PostActionRefused(_("The poll is open."))
        if poll.results_sent_at is not None:
            raise PostActionRefused(
                _("The results went to the participants already; the poll stays closed.")
            )
        if post.state not in ANSWERABLE_STATES:
            raise PostActionRefused(_("Only a poll that went out can be reopened."))
        poll.closes_at = None
        poll.save(update_fields=["closes_at"])
    logger.info("channel.poll_reopened post=%s", post.pk)
    return poll


def results_text(
    poll: Poll, results: poll_queries.PollResults, language: str = DEFAULT_LANGUAGE
) -> str:
    """The results as one line, in the active language with the options' titles in
    ``language`` (fits a template parameter)."""
    parts = [f"{row.title_in(language)} {row.percent} % ({row.count})" for row in results.rows]
    return gettext("%(count)d answers: %(results)s") % {
        "count": results.total,
        "results": " · ".join(parts),
    }


@dataclass(frozen=True)
class ResultsSent:
    queued: int
    # Participants whose window is closed and for whom there is no approved results template.
    skipped: int


def do_send_poll_results(post: Post, *, actor: Any) -> ResultsSent:
    """Send the poll's results once to everyone who answered: as text while their window is
    open, else as the approved results template (``CHANNEL["POLL_RESULTS_TEMPLATE"]``) in
    their language (German otherwise); without one they are skipped and counted."""
    if actor is None or not actor.has_perm("channel.approve_post"):
        raise PostActionRefused(_("You are not allowed to do this."))
    now = clock.now()
    cutoff = open_window_cutoff(now, open_for=WINDOW_MARGIN)
    with transaction.atomic():
        poll = Poll.objects.select_for_update().filter(post=post).first()
        if poll is None:
            raise PostActionRefused(_("This post has no poll."))
        if poll.results_sent_at is not None:
            raise PostActionRefused(_("The results have already been sent."))
        if not poll.is_closed_at(now):
            raise PostActionRefused(_("Close the poll before sending its results."))
        results = poll_queries.poll_results(poll)
        name = str(settings.CHANNEL["POLL_RESULTS_TEMPLATE"])
        messages: dict[tuple[str, bool], outbound.OutboundMessage | None] = {}

        def message_for(language: str, window_open: bool) -> outbound.OutboundMessage | None:
            key = (language, window_open)
            if key not in messages:
                template = None
                if not window_open:
                    template = templates.approved_template(name, language)
                    if template is None:
                        # The German template is filled with the German texts.
                        language = DEFAULT_LANGUAGE
                        template = templates.approved_template(name, language)
                question = poll.question_in(language)
                with translation.override(language):
                    line = results_text(poll, results, language)
                    if window_open:
                        heading = gettext("Results of the poll")
                        messages[key] = outbound.Text(f"*{heading}: {question}*\n\n{line}")
                    else:
                        messages[key] = (
                            template.to_outbound(
                                body_parameters=[
                                    templates.parameter_text(question),
                                    templates.parameter_text(line),
                                ]
                            )
                            if template is not None
                            else None
                        )
            return messages[key]

        participants = list(
            PollAnswer.objects.filter(poll=poll, citizen__erased_at__isnull=True)
            .order_by("pk")
            .values_list("citizen__wa_id", "language", "citizen__last_inbound_at")
        )
        queued = skipped = 0
        for start in range(0, len(participants), RESULTS_CHUNK):
            prepared = []
            for wa_id, language, last_inbound_at in participants[start : start + RESULTS_CHUNK]:
                window_open = last_inbound_at is not None and last_inbound_at > cutoff
                message = message_for(language or DEFAULT_LANGUAGE, window_open)
                if message is None:
                    skipped += 1
                    continue
                prepared.append(PreparedMessage(wa_id, message))
            ids = do_queue_prepared_messages(
                prepared, purpose=Purpose.INFO, priority=Message.Priority.BULK
            )
            queued += sum(1 for message_id in ids if message_id is not None)
        poll.results_sent_at = now
        poll.results_sent_by = actor
        poll.save(update_fields=["results_sent_at", "results_sent_by"])
    logger.info("channel.poll_results post=%s queued=%d skipped=%d", post.pk, queued, skipped)
    return ResultsSent(queued, skipped)


def do_merge_poll_answers(citizen: Citizen, stranger: Citizen | None) -> None:
    """Number change (``CITIZEN_NUMBER_CHANGE_HANDLERS``): answers of the row that already
    had the new number become the citizen's, except for polls the citizen answered."""
    if stranger is None:
        return
    already = PollAnswer.objects.filter(citizen=citizen).values("poll_id")
    PollAnswer.objects.filter(citizen=stranger, poll_id__in=already).delete()
    PollAnswer.objects.filter(citizen=stranger).update(citizen=citizen)
