"""Every state change of the inbox: receiving, replying, notes, assignment, states.

Views, the worker (inbound handler) and tests call these; nothing else saves inbox rows.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from townhall.audit.actions import Action as AuditAction
from townhall.audit.actions import do_audit
from townhall.citizens.models import Citizen
from townhall.citysettings.actions import record_settings_change
from townhall.citysettings.texts import citizen_text
from townhall.core import clock
from townhall.core.privacy import redact
from townhall.inbox.models import (
    CannedResponse,
    ClosedDay,
    Conversation,
    ConversationEvent,
    Label,
    Note,
    Team,
    WeeklyHours,
)
from townhall.inbox.office_hours import Schedule
from townhall.whatsapp import outbound
from townhall.whatsapp.actions import (
    ReactionChange,
    do_clear_message_texts,
    do_empty_messages,
    do_queue_message,
    do_record_reactions,
)
from townhall.whatsapp.models import Message
from townhall.whatsapp.outbound import TEXT_MAX_CHARS
from townhall.whatsapp.policy import Purpose, SendRefused
from townhall.whatsapp.service_window import is_within_service_window

logger = logging.getLogger(__name__)

PREVIEW_CHARS = 200


class OutsideServiceWindow(Exception):
    """Free text is not allowed any more: offer the re-engagement template instead."""


class InvalidInboxInput(ValueError):
    """Bad input from a staff member (empty note, unknown state); the text says what."""


# --- receiving ----------------------------------------------------------------------------------


def do_receive_chat_message(
    citizen: Citizen, message: Message, *, is_unsubscribed: bool = False
) -> Conversation:
    """Put a citizen's message for the mayor's office into their conversation.

    Opens the conversation (or reopens a resolved one), counts it unread and, outside office
    hours, answers once per closed period with an honest auto-reply.
    """
    at = message.created_at
    with transaction.atomic():
        conversation, created = Conversation.objects.select_for_update().get_or_create(
            citizen=citizen,
            defaults={"opened_at": at, "last_message_at": at, "state": Conversation.State.NEW},
        )
        if created:
            _event(conversation, ConversationEvent.Kind.OPENED)
        elif conversation.state == Conversation.State.RESOLVED:
            conversation.state = Conversation.State.OPEN
            conversation.opened_at = at
            conversation.first_response_at = None
            conversation.resolved_at = None
            _event(conversation, ConversationEvent.Kind.REOPENED)
        elif conversation.state == Conversation.State.WAITING:
            conversation.state = Conversation.State.OPEN
        if at >= conversation.last_message_at or created:
            conversation.last_message_at = at
            conversation.last_message_preview = _preview(message)
            conversation.last_message_direction = Message.Direction.INBOUND
        conversation.last_inbound_at = max(conversation.last_inbound_at or at, at)
        conversation.unread_count = F("unread_count") + 1
        conversation.is_unsubscribed = is_unsubscribed
        conversation.save()
        conversation.refresh_from_db(fields=["unread_count"])
        _auto_reply_if_closed(conversation, citizen, at, is_unsubscribed=is_unsubscribed)
    return conversation


def _auto_reply_if_closed(
    conversation: Conversation, citizen: Citizen, at: datetime, *, is_unsubscribed: bool
) -> None:
    """One honest auto-reply per conversation and closed period; caller holds the row lock."""
    # The time the citizen wrote decides, not when the worker got to the message.
    schedule = Schedule.load()
    if schedule.is_open(at):
        return
    period = schedule.closed_period_key(at)
    if conversation.auto_replied_period == period:
        return
    if not is_within_service_window(at):
        # A late re-delivery (Meta retries webhooks for up to 7 days) or a backlog: WhatsApp
        # would refuse free text now, and "we are closed" days later helps no one.
        logger.info(
            "inbox.auto_reply_skipped conversation=%s reason=outside_service_window",
            conversation.pk,
        )
        return
    opening = schedule.next_opening(at)
    with translation.override(citizen.language):
        if opening is None:
            when = _("as soon as possible")
        else:
            local = timezone.localtime(opening)
            when = _("%(weekday)s, %(date)s at %(time)s") % {
                "weekday": formats.date_format(local, "l"),
                "date": formats.date_format(local, "SHORT_DATE_FORMAT"),
                "time": formats.time_format(local, "TIME_FORMAT"),
            }
        text = citizen_text("auto_reply", when=when)
    purpose = Purpose.SERVICE_REPLY if is_unsubscribed else Purpose.CHAT
    try:
        do_queue_message(citizen.wa_id, outbound.Text(text), purpose=purpose)
    except SendRefused as refusal:
        # The citizen's message is in the inbox; only the courtesy reply is not allowed.
        logger.info("inbox.auto_reply_refused conversation=%s reason=%s", conversation.pk, refusal)
        return
    conversation.auto_replied_period = period
    conversation.save(update_fields=["auto_replied_period"])
    _event(conversation, ConversationEvent.Kind.AUTO_REPLY, data={"period": period})
    logger.info(
        "inbox.auto_reply conversation=%s citizen=%s", conversation.pk, redact(citizen.wa_id)
    )


# --- replying -----------------------------------------------------------------------------------


def _placeholder_values(conversation: Conversation, staff_user: Any) -> dict[str, str]:
    staff_name = (staff_user.get_full_name() or staff_user.get_username()) if staff_user else ""
    return {
        "citizen_name": conversation.citizen.profile_name or _("citizen"),
        "staff_name": staff_name,
    }


def _signature(staff_name: str) -> str:
    signature = settings.INBOX_SIGNATURE
    return signature.format(staff_name=staff_name) if signature else ""


def render_reply(text: str, *, conversation: Conversation, staff_user: Any) -> str:
    """Fill in the placeholders of canned responses and add the configured signature."""
    values = _placeholder_values(conversation, staff_user)
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    signature = _signature(values["staff_name"])
    if signature:
        text = f"{text.rstrip()}\n\n{signature}"
    return text


def reply_counter_rule(conversation: Conversation, *, staff_user: Any) -> dict[str, Any]:
    """What the composer's character counter needs to count like ``render_reply`` does:
    the limit, the placeholders' values and the text added under the reply."""
    values = _placeholder_values(conversation, staff_user)
    signature = _signature(values["staff_name"])
    return {
        "limit": TEXT_MAX_CHARS,
        "fill": {"{" + key + "}": value for key, value in values.items()},
        "suffix": f"\n\n{signature}" if signature else "",
    }


def check_reply_length(body: str) -> None:
    """The whole message (signature included) must fit into one WhatsApp text message."""
    if len(body) > TEXT_MAX_CHARS:
        raise InvalidInboxInput(
            _(
                "Not sent: with the signature the reply has %(length)d characters, WhatsApp "
                "allows at most %(limit)d. Please shorten it by %(over)d characters."
            )
            % {"length": len(body), "limit": TEXT_MAX_CHARS, "over": len(body) - TEXT_MAX_CHARS}
        )


def do_reply(conversation: Conversation, text: str, *, acting_user: Any) -> Message:
    """Send a free-text answer in the chat; raises ``OutsideServiceWindow`` after 24 h and
    ``InvalidInboxInput`` for an empty reply or one too long for WhatsApp (nothing is sent)."""
    if not text.strip():
        raise InvalidInboxInput(_("The reply is empty."))
    body = render_reply(text, conversation=conversation, staff_user=acting_user)
    check_reply_length(body)
    if not is_within_service_window(conversation.last_inbound_at):
        raise OutsideServiceWindow()
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        message = do_queue_message(
            conversation.citizen.wa_id,
            outbound.Text(body),
            purpose=Purpose.CHAT,
            acting_user=acting_user,
        )
        _after_outbound(conversation, message, acting_user)
        # The conversation's id only: the text and the number stay out of the audit log.
        do_audit(
            AuditAction.REPLY_SENT,
            acting_user=acting_user,
            target=conversation,
            details={"message_id": message.pk},
        )
    return message


# The emoji staff can put on a citizen's message (WhatsApp accepts any; a short palette keeps
# the inbox calm).
REACTION_CHOICES = ("👍", "❤️", "🙏", "✅", "😊", "😮")
# Interactive ids of choices sent from the inbox: "staff:<n>". The citizen's tap is an
# ordinary message for the office (citizens.routing gives only the bot's prefixes to the bot).
STAFF_CHOICE_PREFIX = "staff:"


def do_react(
    conversation: Conversation, message: Message, emoji: str, *, acting_user: Any
) -> Message:
    """Put the city's reaction on a citizen's message (an empty ``emoji`` removes it).

    Sent as WhatsApp's ``reaction`` message, so only inside the 24-hour window (raises
    ``OutsideServiceWindow``). Unlike a reply it leaves the conversation where it is: no
    state change, no new position in the list.
    """
    if emoji and emoji not in REACTION_CHOICES:
        raise InvalidInboxInput(_("This reaction is not offered."))
    if (
        message.direction != Message.Direction.INBOUND
        or message.wa_id != conversation.citizen.wa_id
        or not message.provider_id
        or message.type == "reaction"
    ):
        raise InvalidInboxInput(_("You can only react to a message of this citizen."))
    if not is_within_service_window(conversation.last_inbound_at):
        raise OutsideServiceWindow()
    with transaction.atomic():
        sent = do_queue_message(
            conversation.citizen.wa_id,
            outbound.Reaction(message.provider_id, emoji),
            purpose=Purpose.CHAT,
            acting_user=acting_user,
        )
        do_record_reactions(
            [
                ReactionChange(
                    message_provider_id=message.provider_id,
                    wa_id=conversation.citizen.wa_id,
                    from_business=True,
                    emoji=emoji,
                    reacted_at=sent.created_at,
                    reaction_message_id=sent.pk,
                )
            ]
        )
        # Something the city said to the citizen, like a reply: who, in which conversation.
        do_audit(
            AuditAction.REPLY_SENT,
            acting_user=acting_user,
            target=conversation,
            details={"message_id": sent.pk, "reaction_to": message.pk, "removed": not emoji},
        )
    return sent


def do_send_choices(
    conversation: Conversation,
    text: str,
    choices: list[str],
    *,
    as_list: bool,
    list_button: str = "",
    acting_user: Any,
) -> Message:
    """Send a text with reply buttons (up to 3) or a list (up to 10 rows); the citizen's tap
    comes back as a message in this conversation. Only inside the 24-hour window.

    Raises ``InvalidOutboundMessage`` when WhatsApp's limits are broken (the form checks
    them first, with sentences for staff).
    """
    if not text.strip():
        raise InvalidInboxInput(_("The reply is empty."))
    if not is_within_service_window(conversation.last_inbound_at):
        raise OutsideServiceWindow()
    body = render_reply(text, conversation=conversation, staff_user=acting_user)
    ids = [f"{STAFF_CHOICE_PREFIX}{index}" for index in range(1, len(choices) + 1)]
    message: outbound.OutboundMessage
    if as_list:
        rows = tuple(
            outbound.ListRow(id=i, title=title) for i, title in zip(ids, choices, strict=True)
        )
        message = outbound.ListMessage(body, list_button, (outbound.ListSection("", rows),))
    else:
        message = outbound.ReplyButtons(body, tuple(zip(ids, choices, strict=True)))
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        sent = do_queue_message(
            conversation.citizen.wa_id, message, purpose=Purpose.CHAT, acting_user=acting_user
        )
        _after_outbound(conversation, sent, acting_user)
        do_audit(
            AuditAction.REPLY_SENT,
            acting_user=acting_user,
            target=conversation,
            details={"message_id": sent.pk, "choices": len(choices), "as_list": as_list},
        )
    return sent


def do_send_reengagement_template(conversation: Conversation, *, acting_user: Any) -> Message:
    """Outside the window only an approved template may be sent; it invites the citizen to
    answer, which reopens the window for free text."""
    name = conversation.citizen.profile_name or _("citizen")
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        message = do_queue_message(
            conversation.citizen.wa_id,
            outbound.Template(
                settings.INBOX_REENGAGEMENT_TEMPLATE["NAME"],
                settings.INBOX_REENGAGEMENT_TEMPLATE["LANGUAGE"],
                body_parameters=(name,),
            ),
            purpose=Purpose.CHAT,
            acting_user=acting_user,
        )
        _after_outbound(conversation, message, acting_user)
        _event(conversation, ConversationEvent.Kind.TEMPLATE_OFFERED, actor=acting_user)
        do_audit(
            AuditAction.REPLY_SENT,
            acting_user=acting_user,
            target=conversation,
            details={"message_id": message.pk, "template": True},
        )
    return message


def _after_outbound(conversation: Conversation, message: Message, acting_user: Any) -> None:
    """Caller holds the row lock."""
    now = clock.now()
    if conversation.first_response_at is None:
        conversation.first_response_at = now
        _event(
            conversation,
            ConversationEvent.Kind.FIRST_RESPONSE,
            actor=acting_user,
            office_seconds=Schedule.load().office_seconds(conversation.opened_at, now),
        )
    if conversation.state in (Conversation.State.NEW, Conversation.State.OPEN):
        conversation.state = Conversation.State.WAITING
    conversation.last_message_at = now
    conversation.last_message_preview = message.text[:PREVIEW_CHARS]
    conversation.last_message_direction = Message.Direction.OUTBOUND
    conversation.unread_count = 0
    conversation.save()


# --- organising ---------------------------------------------------------------------------------


def do_add_note(conversation: Conversation, text: str, *, acting_user: Any) -> Note:
    """An internal note: stored with the conversation, never sent to the citizen."""
    if not text.strip():
        raise InvalidInboxInput(_("The note is empty."))
    return Note.objects.create(conversation=conversation, author=acting_user, text=text.strip())


def do_assign(
    conversation: Conversation,
    *,
    assignee: Any = None,
    team: Team | None = None,
    acting_user: Any,
) -> None:
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        conversation.assignee = assignee
        conversation.team = team
        if conversation.state == Conversation.State.NEW and assignee is not None:
            conversation.state = Conversation.State.OPEN
        conversation.save(update_fields=["assignee", "team", "state"])
        _event(
            conversation,
            ConversationEvent.Kind.ASSIGNED,
            actor=acting_user,
            data={
                "assignee": getattr(assignee, "pk", None),
                "team": getattr(team, "pk", None),
            },
        )


def do_set_state(conversation: Conversation, state: str, *, acting_user: Any) -> None:
    if state not in Conversation.State.values:
        raise InvalidInboxInput(_("Unknown state."))
    now = clock.now()
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.state == state:
            return
        conversation.state = state
        fields = ["state"]
        if state == Conversation.State.RESOLVED:
            conversation.resolved_at = now
            conversation.unread_count = 0
            fields += ["resolved_at", "unread_count"]
            _event(
                conversation,
                ConversationEvent.Kind.RESOLVED,
                actor=acting_user,
                office_seconds=Schedule.load().office_seconds(conversation.opened_at, now),
            )
        else:
            _event(
                conversation,
                ConversationEvent.Kind.STATE_CHANGED,
                actor=acting_user,
                data={"state": state},
            )
        conversation.save(update_fields=fields)


def do_set_priority(conversation: Conversation, priority: int, *, acting_user: Any) -> None:
    if priority not in Conversation.Priority.values:
        raise InvalidInboxInput(_("Unknown priority."))
    Conversation.objects.filter(pk=conversation.pk).update(priority=priority)


def do_set_labels(conversation: Conversation, labels: list[Label], *, acting_user: Any) -> None:
    conversation.labels.set(labels)


def do_mark_read(conversation: Conversation, *, acting_user: Any) -> None:
    """Staff opened the conversation: nothing unread any more."""
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=0)


def do_save_canned_response(title: str, body: str, *, acting_user: Any) -> CannedResponse:
    if not title.strip() or not body.strip():
        raise InvalidInboxInput(_("Title and text are required."))
    return CannedResponse.objects.create(title=title.strip(), body=body.strip())


def do_erase_conversation(citizen: Citizen, pseudonym: str) -> None:
    """Erasure: drop notes and the message preview; keep the anonymous events for metrics."""
    conversation = Conversation.objects.filter(citizen=citizen).first()
    if conversation is None:
        return
    conversation.notes.all().delete()
    conversation.labels.clear()
    Conversation.objects.filter(pk=conversation.pk).update(
        last_message_preview="", state=Conversation.State.RESOLVED, unread_count=0
    )


# Conversations per retention transaction: one UPDATE of their messages, one DELETE of notes.
RETENTION_BATCH_SIZE = 500


def do_apply_conversation_retention(now: datetime | None = None) -> int:
    """Empty the texts of conversations resolved more than
    ``settings.RETENTION["RESOLVED_CONVERSATION_DAYS"]`` ago: message texts and payloads older
    than the cutoff, internal notes and the list preview. Counts and metrics stay. A
    conversation re-opened since is not resolved and keeps everything. Returns the number of
    conversations emptied."""
    now = now or clock.now()
    cutoff = now - timedelta(days=settings.RETENTION["RESOLVED_CONVERSATION_DAYS"])
    due = (
        Conversation.objects.filter(state=Conversation.State.RESOLVED, resolved_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    emptied = 0
    last_pk = 0
    # Walks the ids once (a batch that changes nothing is not fetched again).
    while batch := list(due.filter(pk__gt=last_pk)[:RETENTION_BATCH_SIZE]):
        last_pk = batch[-1]
        with transaction.atomic():
            conversations = Conversation.objects.filter(pk__in=batch)
            do_clear_message_texts(
                Citizen.objects.filter(conversation__in=conversations).values("wa_id"),
                before=cutoff,
            )
            Note.objects.filter(conversation__in=conversations, created_at__lt=cutoff).delete()
            conversations.update(last_message_preview="")
        emptied += len(batch)
    return emptied


# Message ids per UPDATE of do_apply_message_retention: a range of the primary key, so each
# statement reads one slice of the index however large the table has grown.
MESSAGE_RETENTION_ID_RANGE = 10_000


def do_apply_message_retention(now: datetime | None = None) -> int:
    """Empty the texts and payloads of messages older than ``settings.RETENTION["MESSAGE_DAYS"]``
    of citizens who have no inbox conversation: bot dialogues, info-channel deliveries, poll
    taps and reactions. A conversation's messages follow ``do_apply_conversation_retention``
    (the office may still need them). The rows stay for the statistics and the posts'
    reports. Returns the number of messages emptied."""
    now = now or clock.now()
    cutoff = now - timedelta(days=settings.RETENTION["MESSAGE_DAYS"])
    in_conversations = Citizen.objects.filter(conversation__isnull=False).values("wa_id")
    due = Message.objects.filter(created_at__lt=cutoff).exclude(wa_id__in=in_conversations)
    emptied = 0
    low = 0
    while True:
        # Ids grow with time: once the next message is within the period, so is the rest
        # (one stored out of order waits for the next night).
        following = (
            Message.objects.filter(pk__gt=low).order_by("pk").values_list("pk", "created_at")
        ).first()
        if following is None or following[1] >= cutoff:
            return emptied
        low = following[0] - 1
        high = low + MESSAGE_RETENTION_ID_RANGE
        emptied += do_empty_messages(due.filter(pk__gt=low, pk__lte=high))
        low = high


# --- office hours -------------------------------------------------------------------------------


def do_set_office_hours(hours: dict[int, list[tuple[time, time]]], *, acting_user: Any) -> None:
    """Replace the weekly hours (weekday 0 = Monday → opening spans). A weekday without
    spans is closed. The auto-reply and the response times use them from now on."""
    rows = []
    for weekday, spans in sorted(hours.items()):
        if not 0 <= weekday <= 6:
            raise InvalidInboxInput(_("Unknown weekday."))
        ordered = sorted(spans)
        for index, (opens, closes) in enumerate(ordered):
            if opens >= closes:
                raise InvalidInboxInput(_("Each opening time must be before its closing time."))
            if index and ordered[index - 1][1] > opens:
                raise InvalidInboxInput(_("The opening times of one day must not overlap."))
            rows.append(WeeklyHours(weekday=weekday, opens=opens, closes=closes))
    if not rows:
        # No rows means "the built-in hours" to Schedule.load; an office that never opens
        # would only ever answer "closed".
        raise InvalidInboxInput(_("Enter the opening times of at least one day."))
    with transaction.atomic():
        WeeklyHours.objects.all().delete()
        WeeklyHours.objects.bulk_create(rows)
        record_settings_change(acting_user, "office_hours", ["weekly_hours"])


def do_add_closed_day(day: date, reason: str, *, acting_user: Any) -> ClosedDay:
    with transaction.atomic():
        closed_day, _created = ClosedDay.objects.update_or_create(
            date=day, defaults={"reason": reason.strip()[:200]}
        )
        record_settings_change(acting_user, "closed_days", ["closed_days"])
    return closed_day


def do_remove_closed_day(closed_day_id: int, *, acting_user: Any) -> None:
    with transaction.atomic():
        ClosedDay.objects.filter(pk=closed_day_id).delete()
        record_settings_change(acting_user, "closed_days", ["closed_days"])


def do_merge_conversation(citizen: Citizen, stranger: Citizen | None) -> None:
    """Number change (``CITIZEN_NUMBER_CHANGE_HANDLERS``): the citizen's conversation stays
    theirs (it hangs off the citizen, the messages follow the number). A conversation the
    row that already had the new number started becomes theirs if they have none; else its
    notes and labels join theirs and it goes."""
    if stranger is None:
        return
    theirs = Conversation.objects.filter(citizen=stranger).first()
    if theirs is None:
        return
    mine = Conversation.objects.filter(citizen=citizen).first()
    if mine is None:
        Conversation.objects.filter(pk=theirs.pk).update(citizen=citizen)
        return
    Note.objects.filter(conversation=theirs).update(conversation=mine)
    mine.labels.add(*theirs.labels.all())
    if theirs.last_message_at > mine.last_message_at:
        Conversation.objects.filter(pk=mine.pk).update(
            last_message_at=theirs.last_message_at,
            last_message_preview=theirs.last_message_preview,
            last_message_direction=theirs.last_message_direction,
            unread_count=F("unread_count") + theirs.unread_count,
        )
    theirs.delete()


# --- helpers ------------------------------------------------------------------------------------


def _preview(message: Message) -> str:
    return (message.text or f"[{message.type}]")[:PREVIEW_CHARS]


def _event(
    conversation: Conversation,
    kind: str,
    *,
    actor: Any = None,
    data: dict | None = None,
    office_seconds: int | None = None,
) -> ConversationEvent:
    return ConversationEvent.objects.create(
        conversation=conversation,
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        data=data or {},
        team_id=conversation.team_id,
        office_seconds=office_seconds,
    )
