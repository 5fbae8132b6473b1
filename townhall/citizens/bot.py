"""The WhatsApp bot: registration with double opt-in, topics, STOP, and DSGVO self-service.

``handle_inbound`` runs in the worker for every new inbound message, inside the transaction
that marks the message handled. It decides from the message (a keyword, a tapped button or
list row) and the citizen's ``BotSession`` what to do, calls the actions, and answers with
service replies through the sending layer.

Interactive ids are ``<kind>:<value>``: ``offer:info|chat|both``, ``consent:yes|under16|no``
(yes also confirms being 16 or older), ``topic:<slug>|all|done``, ``erase:yes|no``,
``cmd:start|help``, ``notify:all|urgent_only|digest`` (the bell: how normal posts reach the
citizen). Taps of kinds other apps send (``poll:…`` of the info channel) go first, before
any keyword, to their handler in ``settings.BOT_CHOICE_HANDLERS``, which records them and
returns the bot's one-line answer.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from townhall.citizens import actions, links
from townhall.citizens.keywords import Command, Match, match_keyword, normalize, referral_code
from townhall.citizens.models import (
    BotSession,
    Citizen,
    ConsentRecord,
    NotificationMode,
    Offering,
    Subscription,
    Topic,
    TopicSubscription,
)
from townhall.citizens.routing import Route, route_inbound
from townhall.citysettings import config
from townhall.citysettings.texts import citizen_text
from townhall.core import clock
from townhall.core.privacy import redact
from townhall.whatsapp import outbound
from townhall.whatsapp.actions import do_queue_message
from townhall.whatsapp.models import Message
from townhall.whatsapp.policy import Purpose, SendRefused
from townhall.whatsapp.types import InboundMessage

logger = logging.getLogger(__name__)

# How long a question waits for its answer before the flow starts over.
CONSENT_TIMEOUT = timedelta(hours=24)
TOPICS_TIMEOUT = timedelta(hours=24)
ERASURE_TIMEOUT = timedelta(minutes=15)

# Commands typed in English switch the bot's language to English.
_ENGLISH_WORDS = frozenset(
    {
        "help",
        "subscribe",
        "unsubscribe",
        "topics",
        "delete",
        "settings",
        "my",
        "data",
        "yes",
        "everything",
        "urgent",
        "only",
        "digest",
        "summary",
        "notifications",
    }
)

_GERMAN_WORDS = frozenset(
    {
        "hilfe",
        "anmelden",
        "abmelden",
        "themen",
        "loschen",
        "meine",
        "daten",
        "einstellungen",
        "ja",
        "nein",
        "stopp",
        "beides",
        "alles",
        "nur",
        "dringend",
        "zusammenfassung",
        "benachrichtigungen",
        "glocke",
    }
)

# What each bell keyword chooses.
_NOTIFY_COMMANDS = {
    Command.NOTIFY_ALL: NotificationMode.ALL,
    Command.NOTIFY_URGENT_ONLY: NotificationMode.URGENT_ONLY,
    Command.NOTIFY_DIGEST: NotificationMode.DIGEST,
}

Channel = ConsentRecord.Channel


def handle_inbound(citizen: Citizen, message: InboundMessage) -> None:
    """React to one new inbound message of ``citizen`` if it is the bot's to answer."""
    if route_inbound(citizen, message) != Route.BOT:
        return
    reply_id = message.reply.id if message.reply is not None else ""
    handler = choice_handler(reply_id)
    if handler is not None:
        with translation.override(citizen.language):
            _reply(citizen, outbound.Text(handler(citizen, reply_id, message.timestamp)))
        return
    session = _active_session(citizen)
    match = match_keyword(message.text) if message.type == "text" else None
    if match is not None:
        _maybe_switch_language(citizen, message.text)
    code = referral_code(message.text) if message.type == "text" and match is None else None
    with translation.override(citizen.language):
        if code is not None:
            # "START <code>" from a shared post's invitation: the invitation is to the info
            # channel, so ask for that consent directly.
            _ask_consent(
                citizen, [Offering.INFO], channel=Channel.WHATSAPP_KEYWORD, referral_code=code
            )
        elif reply_id and ":" in reply_id:
            _on_choice(citizen, session, reply_id)
        elif match is not None:
            _on_command(citizen, session, match)
        else:
            _on_free_message(citizen, session)


# --- dispatch -----------------------------------------------------------------------------------


def choice_handler(reply_id: str) -> Any:
    """The handler of another app for a tapped id ``<kind>:…`` (None: the bot's own or none)."""
    kind, separator, _rest = reply_id.partition(":")
    path = settings.BOT_CHOICE_HANDLERS.get(kind) if separator else None
    return import_string(path) if path else None


def _on_choice(citizen: Citizen, session: BotSession | None, reply_id: str) -> None:
    kind, _sep, value = reply_id.partition(":")
    if kind == "offer":
        offerings: list[str] = [Offering.INFO, Offering.CHAT] if value == "both" else [value]
        if all(offering in Offering.values for offering in offerings):
            _ask_consent(citizen, offerings, channel=Channel.WHATSAPP_BUTTON)
            return
    elif kind == "consent":
        if session is not None and session.step == BotSession.Step.CONFIRM_CONSENT:
            if value == "under16":
                _answer_under_age(citizen, channel=Channel.WHATSAPP_BUTTON)
            else:
                _answer_consent(citizen, value == "yes", channel=Channel.WHATSAPP_BUTTON)
        else:
            _reply(citizen, outbound.Text(_expired_text()))
        return
    elif kind == "topic":
        _on_topic_choice(citizen, value)
        return
    elif kind == "erase":
        if (
            value == "yes"
            and session is not None
            and session.step == BotSession.Step.CONFIRM_ERASURE
        ):
            _erase(citizen, channel=Channel.WHATSAPP_BUTTON)
        elif value == "yes":
            _reply(citizen, outbound.Text(_expired_text()))
        else:
            _end_session(citizen)
            _reply(citizen, outbound.Text(_("Good, nothing was deleted.")))
        return
    elif kind == "notify":
        if value in NotificationMode.values:
            _set_notification_mode(citizen, value, channel=Channel.WHATSAPP_BUTTON)
            return
    elif kind == "cmd":
        if value == "start":
            _send_welcome(citizen)
            return
        if value == "help":
            _send_help(citizen)
            return
    logger.info("bot.unknown_choice citizen=%s kind=%s", redact(citizen.wa_id), kind[:20])
    _send_help(citizen)


def _on_command(citizen: Citizen, session: BotSession | None, match: Match) -> None:
    command = match.command
    step = session.step if session is not None else None
    if command in (Command.YES, Command.NO):
        if step == BotSession.Step.CONFIRM_CONSENT:
            _answer_consent(citizen, command == Command.YES, channel=Channel.WHATSAPP_KEYWORD)
        elif step == BotSession.Step.CONFIRM_ERASURE and command == Command.YES:
            _erase(citizen, channel=Channel.WHATSAPP_KEYWORD)
        elif step == BotSession.Step.CONFIRM_ERASURE:
            _end_session(citizen)
            _reply(citizen, outbound.Text(_("Good, nothing was deleted.")))
        else:
            _send_help(citizen)
    elif command == Command.START:
        if match.offering is not None:
            _ask_consent(citizen, [match.offering], channel=Channel.WHATSAPP_KEYWORD)
        else:
            _send_welcome(citizen)
    elif command in (Command.INFO, Command.CHAT):
        offering = Offering.INFO if command == Command.INFO else Offering.CHAT
        _ask_consent(citizen, [offering], channel=Channel.WHATSAPP_KEYWORD)
    elif command == Command.STOP:
        _stop(citizen, match.offering)
    elif command == Command.TOPICS:
        if _is_active(citizen, Offering.INFO):
            _send_topic_list(citizen)
        else:
            _reply(
                citizen,
                outbound.Text(
                    _(
                        "Topics belong to the info channel, which you have not subscribed to. Send INFO to subscribe."
                    )
                ),
            )
    elif command == Command.HELP:
        _send_help(citizen)
    elif command == Command.MY_DATA:
        _send_my_data(citizen)
    elif command == Command.SETTINGS:
        _reply(
            citizen,
            outbound.Text(
                _(
                    "Change your subscriptions and topics here (the link is valid for 7 days):\n%(url)s"
                )
                % {"url": links.preferences_url(citizen)},
                preview_url=True,
            ),
        )
    elif command == Command.DELETE:
        _ask_erasure(citizen)
    elif command in _NOTIFY_COMMANDS:
        _set_notification_mode(citizen, _NOTIFY_COMMANDS[command], channel=Channel.WHATSAPP_KEYWORD)
    elif command == Command.NOTIFICATIONS:
        _send_notification_choice(citizen)


def _on_free_message(citizen: Citizen, session: BotSession | None) -> None:
    """Anything that is not a command: the chat's business, or a short helpful answer."""
    if session is not None and session.step == BotSession.Step.CONFIRM_CONSENT:
        _reply(
            citizen,
            outbound.ReplyButtons(
                _("Please confirm first that you agree, or tap No."),
                _consent_buttons(),
            ),
        )
        return
    if _is_active(citizen, Offering.INFO):
        body = citizen_text("info_only")
    else:
        body = citizen_text("stranger", city=config.city_name())
    _reply(
        citizen,
        outbound.ReplyButtons(body, (("cmd:start", _("Register")), ("cmd:help", _("Help")))),
    )


# --- flows --------------------------------------------------------------------------------------


def _send_welcome(citizen: Citizen) -> None:
    """START: a new citizen chooses what to receive; a subscribed one hears what they get."""
    active = [offering for offering in Offering.values if _is_active(citizen, offering)]
    if active:
        _send_current_subscriptions(citizen, active)
        return
    body = citizen_text("welcome", city=config.city_name(), privacy_url=_privacy_url())
    _reply(
        citizen,
        outbound.ReplyButtons(
            body,
            (
                ("offer:info", _("Info channel")),
                ("offer:chat", _("Mayor's chat")),
                ("offer:both", _("Both")),
            ),
        ),
    )


def _send_current_subscriptions(citizen: Citizen, active: list[str]) -> None:
    """Instead of asking a subscriber to subscribe again: what they receive, how to change
    it and how to stop; a button for what they do not have yet."""
    lines = []
    if Offering.INFO in active:
        topics = ", ".join(
            topic.name(citizen.language)
            for topic in Topic.objects.filter(
                subscriptions__citizen=citizen,
                subscriptions__is_active=True,
                is_active=True,
            ).order_by("position", "pk")
        )
        lines.append(
            _("• Info channel, your topics: %(topics)s")
            % {"topics": topics or _("none yet (send THEMEN to choose)")}
        )
    if Offering.CHAT in active:
        lines.append(_("• Chat with the mayor's office: just write your message here"))
    body = _(
        "You are already registered with the WhatsApp service of the City of %(city)s:\n"
        "%(subscriptions)s\n\n"
        "THEMEN changes your topics, EINSTELLUNGEN opens all settings, STOP unsubscribes "
        "(STOP INFO or STOP CHAT for one of them)."
    ) % {"city": config.city_name(), "subscriptions": "\n".join(lines)}
    missing = [offering for offering in Offering.values if offering not in active]
    if not missing:
        _reply(citizen, outbound.Text(body))
        return
    # Button titles: at most 20 characters (Meta).
    titles = {Offering.INFO: _("Add info channel"), Offering.CHAT: _("Add the chat")}
    buttons = tuple((f"offer:{offering}", titles[Offering(offering)]) for offering in missing)
    _reply(citizen, outbound.ReplyButtons(body, (*buttons, ("cmd:help", _("Help")))))


def _ask_consent(
    citizen: Citizen, offerings: list[str], *, channel: str, referral_code: str = ""
) -> None:
    already = [o for o in offerings if _is_active(citizen, o)]
    waiting = actions.do_request_subscription(citizen, offerings, channel=channel)
    if not waiting:
        names = ", ".join(_offering_name(o) for o in already)
        _reply(
            citizen,
            outbound.Text(_("You have already subscribed to: %(names)s.") % {"names": names}),
        )
        return
    data: dict = {"offerings": waiting}
    if referral_code:
        data["referral_code"] = referral_code
    _start_session(citizen, BotSession.Step.CONFIRM_CONSENT, CONSENT_TIMEOUT, data)
    consent_text = actions.current_consent_text()
    names = _(" and ").join(_offering_name(o) for o in waiting)
    body = (
        citizen_text(
            "consent_question",
            names=names,
            consent=consent_text.text(citizen.language),
            privacy_url=_privacy_url(),
        )
        # Not part of the editable text: the age rule (DSGVO Art. 8) must always be asked.
        + "\n"
        + _("Tap “Yes, I agree” only if you are 16 or older.")
    )
    _reply(
        citizen,
        outbound.ReplyButtons(body[: outbound.INTERACTIVE_BODY_MAX_CHARS], _consent_buttons()),
    )


def _answer_consent(citizen: Citizen, agreed: bool, *, channel: str) -> None:
    if not agreed:
        pending = list(
            Subscription.objects.filter(
                citizen=citizen, state=Subscription.State.PENDING
            ).values_list("offering", flat=True)
        )
        actions.do_withdraw_subscriptions(citizen, pending, channel=channel)
        _end_session(citizen)
        _reply(
            citizen,
            outbound.Text(citizen_text("declined")),
        )
        return
    session_data = (
        BotSession.objects.filter(citizen=citizen).values_list("data", flat=True).first() or {}
    )
    # The question and the consent text say that agreeing confirms being 16 or older.
    confirmed = actions.do_confirm_subscriptions(
        citizen,
        channel=channel,
        age_confirmed=True,
        referral_code=str(session_data.get("referral_code", ""))[:8],
    )
    _end_session(citizen)
    if Offering.CHAT in confirmed:
        _reply(
            citizen,
            outbound.Text(citizen_text("chat_confirmed")),
        )
    if Offering.INFO in confirmed:
        _send_topic_list(
            citizen, intro=_("Thank you! Which topics would you like in the info channel?")
        )


def _answer_under_age(citizen: Citizen, *, channel: str) -> None:
    """Under 16 the citizen's own consent does not count (DSGVO Art. 8, § 16 in Germany):
    nothing is subscribed, and we say how a parent can agree for them."""
    actions.do_decline_under_age(citizen, channel=channel)
    _end_session(citizen)
    _reply(
        citizen,
        outbound.Text(
            _(
                "Thank you for telling us. As you are under 16, a parent or guardian has to "
                "agree before we may send you messages (Art. 8 GDPR). You have not subscribed "
                "to anything.\n\n"
                "What to do: ask a parent or guardian to contact the City of %(city)s with "
                "you (citizens' office or the contact in the privacy notice: "
                "%(privacy_url)s). With their written consent the city registers you. "
                "Once you are 16, you can send START yourself."
            )
            % {"city": settings.CITY["NAME"], "privacy_url": _privacy_url()}
        ),
    )


def _send_topic_list(citizen: Citizen, intro: str = "") -> None:
    language = citizen.language
    topics = list(Topic.objects.filter(is_active=True))
    chosen = _chosen_topic_slugs(citizen)
    names = ", ".join(t.name(language) for t in topics if t.slug in chosen) or _("none yet")
    body = (
        (intro or _("Your topics in the info channel."))
        + "\n\n"
        + _("Chosen: %(names)s.\nTap a topic to choose or remove it, then tap Done.")
        % {"names": names}
    )
    rows = [
        outbound.ListRow(
            f"topic:{topic.slug}",
            (("✓ " if topic.slug in chosen else "") + topic.name(language))[
                : outbound.ROW_TITLE_MAX_CHARS
            ],
            topic.description(language),
        )
        for topic in topics[:8]
    ]
    rows.append(outbound.ListRow("topic:all", _("All topics")))
    rows.append(outbound.ListRow("topic:done", _("Done")))
    _start_session(citizen, BotSession.Step.CHOOSE_TOPICS, TOPICS_TIMEOUT, {})
    _reply(
        citizen,
        outbound.ListMessage(
            body, _("Choose topics"), (outbound.ListSection(_("Topics"), tuple(rows)),)
        ),
    )


def _on_topic_choice(citizen: Citizen, value: str) -> None:
    if not _is_active(citizen, Offering.INFO):
        _reply(citizen, outbound.Text(_("Send INFO to subscribe to the info channel first.")))
        return
    chosen = _chosen_topic_slugs(citizen)
    if value == "done":
        if not chosen:
            _send_topic_list(citizen, intro=_("Please choose at least one topic."))
            return
        _end_session(citizen)
        _confirm_topics(citizen, chosen)
        return
    if value == "all":
        chosen = set(Topic.objects.filter(is_active=True).values_list("slug", flat=True))
        actions.do_set_topics(citizen, chosen, channel=Channel.WHATSAPP_BUTTON)
        _end_session(citizen)
        _confirm_topics(citizen, chosen)
        return
    if not Topic.objects.filter(slug=value, is_active=True).exists():
        _send_topic_list(citizen)
        return
    chosen ^= {value}
    actions.do_set_topics(citizen, chosen, channel=Channel.WHATSAPP_BUTTON)
    _send_topic_list(citizen)


def _confirm_topics(citizen: Citizen, chosen: set[str]) -> None:
    names = ", ".join(
        t.name(citizen.language) for t in Topic.objects.filter(slug__in=chosen, is_active=True)
    )
    # The bell's question rides along with the confirmation: one message, three buttons.
    body = citizen_text("topics_done", names=names) + "\n\n" + _notification_question(citizen)
    _reply(citizen, outbound.ReplyButtons(body, _notification_buttons()))


def _notification_question(citizen: Citizen) -> str:
    return _(
        "How should we notify you? Now: %(mode)s. Urgent alerts always come at once; "
        "the daily summary lists the other posts once a day at %(time)s."
    ) % {"mode": _mode_name(citizen.notification_mode), "time": _digest_time()}


def _notification_buttons() -> tuple[tuple[str, str], ...]:
    # Button titles: at most 20 characters.
    return (
        (f"notify:{NotificationMode.ALL}", _("Every post")),
        (f"notify:{NotificationMode.URGENT_ONLY}", _("Urgent only")),
        (f"notify:{NotificationMode.DIGEST}", _("Daily summary")),
    )


def _send_notification_choice(citizen: Citizen) -> None:
    if not _is_active(citizen, Offering.INFO):
        _reply(citizen, outbound.Text(_("Send INFO to subscribe to the info channel first.")))
        return
    _reply(
        citizen,
        outbound.ReplyButtons(_notification_question(citizen), _notification_buttons()),
    )


def _set_notification_mode(citizen: Citizen, mode: str, *, channel: str) -> None:
    if not _is_active(citizen, Offering.INFO):
        _reply(citizen, outbound.Text(_("Send INFO to subscribe to the info channel first.")))
        return
    actions.do_set_notification_mode(citizen, mode, channel=channel)
    if mode == NotificationMode.URGENT_ONLY:
        text = _(
            "Done: from now on you only receive urgent alerts. ALLES brings every post again, "
            "ZUSAMMENFASSUNG a daily summary."
        )
    elif mode == NotificationMode.DIGEST:
        text = _(
            "Done: you receive one summary of the day's posts at %(time)s (only on days with "
            "posts). Urgent alerts still come at once. ALLES brings every post at once again."
        ) % {"time": _digest_time()}
    else:
        text = _(
            "Done: you receive every post of your topics at once. NUR DRINGEND limits it to "
            "urgent alerts, ZUSAMMENFASSUNG sends a daily summary instead."
        )
    _reply(citizen, outbound.Text(text))


def _mode_name(mode: str) -> str:
    return str(NotificationMode(mode).label)


def _digest_time() -> str:
    return str(settings.CHANNEL["DIGEST_TIME"])


def _stop(citizen: Citizen, offering: str | None) -> None:
    offerings = None if offering is None else [offering]
    ended = actions.do_withdraw_subscriptions(citizen, offerings, channel=Channel.WHATSAPP_KEYWORD)
    _end_session(citizen)
    if not ended:
        _reply(
            citizen, outbound.Text(_("You have no active subscription. Send START to register."))
        )
        return
    names = _(" and ").join(_offering_name(o) for o in ended)
    remaining = [o for o in Offering.values if _is_active(citizen, o)]
    if remaining:
        text = _("You have unsubscribed from: %(names)s. Still active: %(remaining)s.") % {
            "names": names,
            "remaining": ", ".join(_offering_name(o) for o in remaining),
        }
    else:
        text = citizen_text("unsubscribed_all", names=names)
    _reply(citizen, outbound.Text(text))


def _send_help(citizen: Citizen) -> None:
    _reply(
        citizen,
        outbound.Text(citizen_text("help", privacy_url=_privacy_url())),
    )


def _send_my_data(citizen: Citizen) -> None:
    language = citizen.language
    subscriptions = {s.offering: s for s in Subscription.objects.filter(citizen=citizen)}
    lines = []
    for offering in Offering.values:
        subscription = subscriptions.get(offering)
        state = subscription.get_state_display() if subscription else _("not subscribed")
        lines.append(f"• {_offering_name(offering)}: {state}")
    topics = ", ".join(
        t.name(language)
        for t in Topic.objects.filter(subscriptions__citizen=citizen, subscriptions__is_active=True)
    ) or _("none")
    message_count = Message.objects.filter(wa_id=citizen.wa_id).count()
    consent_count = ConsentRecord.objects.filter(citizen=citizen).count()
    actions.do_record_data_export(citizen, channel=Channel.WHATSAPP_KEYWORD)
    body = _(
        "What we store about you:\n"
        "• WhatsApp number: +%(number)s\n• Name in your profile: %(name)s\n"
        "%(subscriptions)s\n• Topics: %(topics)s\n• Messages exchanged: %(messages)d\n"
        "• Consent records: %(consents)d\n\n"
        "Full export (works once, for 24 hours): %(url)s"
    ) % {
        "number": citizen.wa_id,
        "name": citizen.profile_name or "–",
        "subscriptions": "\n".join(lines),
        "topics": topics,
        "messages": message_count,
        "consents": consent_count,
        "url": links.export_url(citizen),
    }
    _reply(citizen, outbound.Text(body))


def _ask_erasure(citizen: Citizen) -> None:
    _start_session(citizen, BotSession.Step.CONFIRM_ERASURE, ERASURE_TIMEOUT, {})
    _reply(
        citizen,
        outbound.ReplyButtons(
            _(
                "Do you really want us to erase all your data (number, name, messages, "
                "subscriptions)? This cannot be undone, and you will receive nothing more from us."
            ),
            (("erase:yes", _("Yes, erase")), ("erase:no", _("Cancel"))),
        ),
    )


def _erase(citizen: Citizen, *, channel: str) -> None:
    _end_session(citizen)
    _reply(
        citizen,
        outbound.Text(citizen_text("goodbye")),
    )
    actions.do_request_erasure(citizen, channel=channel)


# --- helpers ------------------------------------------------------------------------------------


def _reply(citizen: Citizen, message: outbound.OutboundMessage) -> None:
    """Answer the citizen. A refusal (e.g. a message that reached us after the 24-hour
    window closed) is logged, not raised: the citizen's action itself still counts."""
    try:
        do_queue_message(citizen.wa_id, message, purpose=Purpose.SERVICE_REPLY)
    except SendRefused as refusal:
        logger.info("bot.reply_refused citizen=%s reason=%s", redact(citizen.wa_id), refusal)


def _consent_buttons() -> tuple[tuple[str, str], ...]:
    return (
        ("consent:yes", _("Yes, I agree")),
        ("consent:under16", _("I am under 16")),
        ("consent:no", _("No, thanks")),
    )


def _offering_name(offering: str) -> str:
    return str(Offering(offering).label)


def _privacy_url() -> str:
    return f"{settings.PUBLIC_BASE_URL}/datenschutz/"


def _expired_text() -> str:
    return _("This question has expired. Send START to begin again.")


def _is_active(citizen: Citizen, offering: str) -> bool:
    return Subscription.objects.filter(
        citizen=citizen, offering=offering, state=Subscription.State.ACTIVE
    ).exists()


def _chosen_topic_slugs(citizen: Citizen) -> set[str]:
    return set(
        TopicSubscription.objects.filter(
            citizen=citizen, is_active=True, topic__is_active=True
        ).values_list("topic__slug", flat=True)
    )


def _active_session(citizen: Citizen) -> BotSession | None:
    session = BotSession.objects.filter(citizen=citizen).first()
    if session is not None and session.expires_at <= clock.now():
        session.delete()
        return None
    return session


def _start_session(citizen: Citizen, step: str, timeout: timedelta, data: dict) -> None:
    now = clock.now()
    BotSession.objects.update_or_create(
        citizen=citizen,
        defaults={"step": step, "data": data, "expires_at": now + timeout, "updated_at": now},
    )


def _end_session(citizen: Citizen) -> None:
    BotSession.objects.filter(citizen=citizen).delete()


def _maybe_switch_language(citizen: Citizen, text: str) -> None:
    """Answer in the language the citizen's command was written in."""
    words = set(normalize(text).split())
    if words & _ENGLISH_WORDS:
        language = "en"
    elif words & _GERMAN_WORDS:
        language = "de"
    else:
        return
    if language != citizen.language:
        citizen.language = language
        citizen.save(update_fields=["language"])
