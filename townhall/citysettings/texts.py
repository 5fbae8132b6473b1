"""The texts citizens receive from the bot and the auto-reply, changeable per language.

Each text has a key, a label for the settings page and its built-in English msgid (the
German and English wording come from the catalogues). ``citizen_text(key, **values)``
sends the city's own wording for the active language where one is set, else the
translated built-in one. Placeholders like ``%(city)s`` are filled in either way; the
settings form only accepts wording that uses the placeholders the built-in text has.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import get_language, gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from townhall.citysettings import config

logger = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@dataclass(frozen=True, slots=True)
class CitizenTextSpec:
    key: str
    label: Promise
    default: str  # the msgid

    @property
    def placeholders(self) -> set[str]:
        return set(PLACEHOLDER.findall(self.default))


CITIZEN_TEXTS: tuple[CitizenTextSpec, ...] = (
    CitizenTextSpec(
        "welcome",
        _("Welcome (after START)"),
        gettext_noop(
            "Welcome to the WhatsApp service of the City of %(city)s!\n\n"
            "• Info channel: news, events and urgent alerts\n"
            "• Chat with the mayor's office: your questions, ideas and concerns\n\n"
            "Privacy notice: %(privacy_url)s\n\nWhat would you like?"
        ),
    ),
    CitizenTextSpec(
        "stranger",
        _("Message from someone not registered"),
        gettext_noop(
            "Hello! This is the WhatsApp service of the City of %(city)s. To write with the "
            "mayor's office or to receive news, please register first."
        ),
    ),
    CitizenTextSpec(
        "info_only",
        _("Message from an info channel subscriber without the chat"),
        gettext_noop(
            "Thank you for your message. You receive the info channel, but messages to the "
            "mayor's office need the chat. Send CHAT to add it."
        ),
    ),
    CitizenTextSpec(
        "consent_question",
        _("Consent question"),
        gettext_noop(
            "You chose: %(names)s.\n\n%(consent)s\n\nPrivacy notice: %(privacy_url)s\n\nDo you agree?"
        ),
    ),
    CitizenTextSpec(
        "declined",
        _("Consent declined"),
        gettext_noop(
            "All right, you have not subscribed to anything. Send START if you change your mind."
        ),
    ),
    CitizenTextSpec(
        "chat_confirmed",
        _("Chat confirmed"),
        gettext_noop(
            "Thank you! You can now write to the mayor's office here. We answer during "
            "office hours. In an emergency call 110 (police) or 112 (fire brigade, ambulance)."
        ),
    ),
    CitizenTextSpec(
        "topics_done",
        _("Topics chosen"),
        gettext_noop(
            "Done. You receive: %(names)s.\n\nTHEMEN changes your topics, STOP ends a "
            "subscription, HILFE shows all commands."
        ),
    ),
    CitizenTextSpec(
        "unsubscribed_all",
        _("Unsubscribed from everything"),
        gettext_noop(
            "You have unsubscribed from: %(names)s. You will receive no more messages from us. "
            "Send START to register again, LÖSCHEN to erase your data."
        ),
    ),
    CitizenTextSpec(
        "help",
        _("Help (HILFE)"),
        gettext_noop(
            "Commands:\n"
            "START – register\n"
            "INFO / CHAT – subscribe to the info channel / the chat\n"
            "THEMEN – change your topics\n"
            "ALLES / NUR DRINGEND / ZUSAMMENFASSUNG – every post, urgent alerts only, or "
            "a daily summary\n"
            "STOP – unsubscribe (STOP INFO or STOP CHAT for one of them)\n"
            "EINSTELLUNGEN – change everything on a web page\n"
            "MEINE DATEN – what we store about you\n"
            "LÖSCHEN – erase your data\n\n"
            "Privacy notice: %(privacy_url)s"
        ),
    ),
    CitizenTextSpec(
        "goodbye",
        _("Goodbye before erasure"),
        gettext_noop("Your data will be erased in a moment. This is our last message. Goodbye!"),
    ),
    CitizenTextSpec(
        "auto_reply",
        _("Auto-reply outside office hours"),
        gettext_noop(
            "Thank you for your message! The mayor's office is closed right now. We will "
            "answer from %(when)s. In an emergency please call 110 (police) or 112 (fire "
            "brigade, ambulance)."
        ),
    ),
)
SPECS = {spec.key: spec for spec in CITIZEN_TEXTS}


def default_text(key: str) -> str:
    """The built-in text in the active language."""
    return gettext(SPECS[key].default)


def citizen_text(key: str, **values: object) -> str:
    """The text ``key`` in the active language, the city's wording where it set one."""
    language = (get_language() or "de").split("-")[0]
    override = config.citizen_text_override(key, language)
    if override:
        try:
            return override % values
        except (KeyError, ValueError, TypeError):
            # Checked on saving; a text saved before a placeholder was removed lands here.
            logger.error("citysettings.citizen_text_unusable key=%s language=%s", key, language)
    return default_text(key) % values


def check_placeholders(key: str, text: str) -> set[str]:
    """Placeholders ``text`` uses that the built-in text does not offer (empty = fine)."""
    used = set(PLACEHOLDER.findall(text))
    # A lone % would break the formatting; "%%" is a literal percent sign.
    stray = re.sub(r"%%|%\(\w+\)[sd]", "", text)
    unknown = used - SPECS[key].placeholders
    if "%" in stray:
        unknown.add("%")
    return unknown
