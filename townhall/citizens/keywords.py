"""Recognise the bot commands citizens type into WhatsApp.

Citizens write free text in German or English. Only a message that *is* a command, give or
take punctuation, emoji and a few polite words ("Stopp!", "bitte abmelden danke", "stop
info"), counts as one; a sentence that merely contains a keyword ("Wann startet das
Stadtfest?") is a message for the mayor's office. When in doubt we return ``None``: a missed
command costs the citizen a second try, a false one may unsubscribe them or start a deletion.

Pure Python on purpose: the bot flows decide what a match does.
"""

from __future__ import annotations

import enum
import itertools
import math
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = ["Command", "Match", "Offering", "match_keyword", "normalize"]


class Command(enum.StrEnum):
    """What a citizen asks the bot to do."""

    START = "start"
    STOP = "stop"
    TOPICS = "topics"
    INFO = "info"
    CHAT = "chat"
    HELP = "help"
    MY_DATA = "my_data"
    DELETE = "delete"
    SETTINGS = "settings"
    YES = "yes"
    NO = "no"
    # The bell: how normal posts of the info channel reach the citizen.
    NOTIFY_ALL = "notify_all"
    NOTIFY_URGENT_ONLY = "notify_urgent_only"
    NOTIFY_DIGEST = "notify_digest"
    # Show the three choices.
    NOTIFICATIONS = "notifications"


class Offering(enum.StrEnum):
    """The two services a citizen can subscribe to separately."""

    CHAT = "chat"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Match:
    """A recognised command.

    ``offering`` is only ever set for START and STOP, when the citizen named one offering
    ("stop info"); ``None`` there means no offering or all of them ("stop", "stop alle").
    """

    command: Command
    offering: Offering | None = None


THUMBS_UP = "\N{THUMBS UP SIGN}"

# Apostrophes join rather than split, so "don't" stays one (unknown) word "dont".
_APOSTROPHES = frozenset("'\N{RIGHT SINGLE QUOTATION MARK}`\N{ACUTE ACCENT}")
# Citizens without a German keyboard write "ae" for "ä"; both become "a" so either spelling
# (and the lazy "a") match. Applied to the vocabulary too, so it never needs to be exact German.
_UMLAUT_SPELLINGS = (("ae", "a"), ("oe", "o"), ("ue", "u"))


def normalize(text: str) -> str:
    """Reduce ``text`` to lowercase ASCII-ish words separated by single spaces.

    Case is folded ("ß" becomes "ss"), accents and umlauts are stripped ("ä" and "ae" both
    become "a"), punctuation and emoji become word breaks. The thumbs-up emoji is kept as a
    word of its own because citizens use it to say yes.
    """
    characters: list[str] = []
    for character in unicodedata.normalize("NFKD", text.casefold()):
        if character == THUMBS_UP:
            characters.append(f" {THUMBS_UP} ")
        elif unicodedata.category(character) == "Mn":
            # Combining accents left by NFKD, and emoji variation selectors.
            continue
        elif character in _APOSTROPHES:
            continue
        elif character.isalnum():
            characters.append(character)
        else:
            characters.append(" ")
    normalized = "".join(characters)
    for spelling, plain in _UMLAUT_SPELLINGS:
        normalized = normalized.replace(spelling, plain)
    return " ".join(normalized.split())


# --- Vocabulary -------------------------------------------------------------------------
# Written in plain German and English; everything is run through normalize() at import.

_COMMAND_PHRASES: dict[Command, tuple[str, ...]] = {
    Command.START: (
        "start",
        "starten",
        "anmelden",
        "anmeldung",
        "subscribe",
        "abonnieren",
    ),
    Command.STOP: (
        "stop",
        "stopp",
        "stoppen",
        "abmelden",
        "abmeldung",
        "abbestellen",
        "unsubscribe",
        "austragen",
        "beenden",
        "opt out",
    ),
    Command.TOPICS: (
        "themen",
        "thema",
        "topics",
        "topic",
        "themen ändern",
        "thema ändern",
        "change topics",
    ),
    Command.INFO: (
        "info",
        "infos",
        "info-kanal",
        "infokanal",
        "kanal",
        "channel",
        "info channel",
        "news",
        "newsletter",
    ),
    Command.CHAT: (
        "chat",
        "chatten",
        "bürgermeister",
        "bürgermeisterin",
        "mayor",
        "chat mit dem bürgermeister",
    ),
    Command.HELP: ("hilfe", "help", "menü", "menu", "befehle", "commands"),
    Command.MY_DATA: ("meine daten", "my data", "daten", "auskunft", "datenauskunft"),
    Command.DELETE: (
        "löschen",
        "delete",
        "daten löschen",
        "delete my data",
        "konto löschen",
        "account löschen",
        "delete account",
        "alles löschen",
        "delete everything",
    ),
    Command.SETTINGS: ("einstellungen", "einstellung", "settings", "präferenzen", "preferences"),
    # "alles", "all" and "everything" alone mean NOTIFY_ALL too: see _NOTIFY_ALL_WORDS.
    Command.NOTIFY_ALL: (
        "alle meldungen",
        "jede meldung",
        "all posts",
        "every post",
    ),
    Command.NOTIFY_URGENT_ONLY: (
        "nur dringend",
        "nur dringende",
        "nur dringendes",
        "nur dringende meldungen",
        "nur warnungen",
        "nur eilmeldungen",
        "urgent only",
        "only urgent",
        "only urgent alerts",
        "urgent alerts only",
    ),
    Command.NOTIFY_DIGEST: (
        "zusammenfassung",
        "tägliche zusammenfassung",
        "tageszusammenfassung",
        "digest",
        "daily digest",
        "summary",
        "daily summary",
    ),
    Command.NOTIFICATIONS: (
        "benachrichtigung",
        "benachrichtigungen",
        "glocke",
        "notification",
        "notifications",
        "bell",
    ),
    Command.YES: (
        "ja",
        "yes",
        "jo",
        "jup",
        "jep",
        "yep",
        "yup",
        "ok",
        "okay",
        "okey",
        "klar",
        "sure",
        THUMBS_UP,
        "ja ich stimme zu",
        "ich stimme zu",
        "zustimmen",
        "einverstanden",
        "agree",
    ),
    Command.NO: (
        "nein",
        "no",
        "nö",
        "nee",
        "ne",
        "nope",
        "abbrechen",
        "cancel",
        "ich stimme nicht zu",
        "nicht einverstanden",
    ),
}

# Deleting is destructive, so DELETE phrases only match word for word after normalize():
# no typo tolerance, and a typo near a DELETE-only word refuses the whole message instead of
# being read as something else. The flow still asks for confirmation; this keeps a near miss
# like "loeschn" from even starting it.
_STRICT_COMMANDS = frozenset({Command.DELETE})

# Words that only make sense next to START/STOP ("stop alle", "alles abmelden").
_ALL_OFFERINGS_PHRASES = ("alle", "alles", "all", "everything", "komplett")
# ... except these, which alone answer the bell's question "alles oder nur dringende?"
# ("ALLES": every post at once). Next to START/STOP they still name all offerings.
_NOTIFY_ALL_WORDS = frozenset({"alles", "all", "everything"})

# Switch particles ("Chat aus", "Info an", "abmelden aus dem Chat"): they mean STOP or START
# next to an offering, a verb or a verb stem, but alone ("aus", "an") they say too little.
_PARTICLES: dict[Command, tuple[str, ...]] = {
    Command.STOP: ("aus", "off", "ab"),
    Command.START: ("an", "on"),
}

# German separable verbs put their particle at the end, often with the offering in between:
# "Ich melde mich vom Info-Kanal ab". The stem is neutral; the particle says START or STOP.
_VERB_STEMS = ("melde", "meld", "trag", "trage")

# Polite words that may surround a command without changing it. Deliberately small: every
# word here widens what counts as a command. "nicht"/"not" are never filler, so "bitte nicht
# löschen" stays unrecognised.
_FILLER_WORDS = frozenset(
    normalize(word)
    for word in (
        "bitte",
        "danke",
        "dankeschön",
        "vielen",
        "dank",
        "please",
        "pls",
        "plz",
        "thanks",
        "thank",
        "you",
        "thx",
        "ich",
        "möchte",
        "will",
        "würde",
        "gerne",
        "gern",
        "mich",
        "jetzt",
        "sofort",
        "den",
        "dem",
        "die",
        "das",
        "der",
        "the",
        "me",
        "i",
        "want",
        "would",
        "to",
        "von",
        "vom",
        "mit",
        "with",
        "for",
        "für",
        "zum",
        "zur",
        "now",
        "und",
        "and",
        "mein",
        "meine",
        "meinen",
        "meiner",
        "my",
        "hallo",
        "hello",
        "hi",
        "hey",
        "moin",
        "servus",
    )
)

# Filler words whose typos we forgive ("bitte abmelden dnake"). Not the possessives: "keine"
# is one edit from "meine", and "keine Daten" is no request for data.
_TYPO_TOLERANT_FILLER_WORDS = frozenset(
    normalize(word)
    for word in ("bitte", "danke", "dankeschön", "please", "thanks", "möchte", "gerne", "sofort")
)

# "Danke für die Info" / "thanks for the help" thank for something; they do not ask for it.
_THANKS_WORDS = frozenset(
    normalize(word) for word in ("danke", "dank", "dankeschön", "thanks", "thank", "thx")
)
_FOR_WORDS = frozenset(normalize(word) for word in ("für", "for"))

# Typos are only forgiven between words this long: among short words one edit turns one
# real word into another ("stop"/"shop", "info"/"into", "ja"/"so").
_MIN_TYPO_LENGTH = 5

# Real words one edit away from a vocabulary word, which citizens plausibly send on their own
# or with an offering ("Stadt Info?"). They are never read as typos.
_REAL_WORDS_NEAR_VOCABULARY = frozenset(
    {
        "stadt",  # start
        "statt",  # start
        "stark",  # start
        "starr",  # start
        "stars",  # start
        "smart",  # start
        "starken",  # starten
        "datei",  # daten
        "taten",  # daten
        "raten",  # daten
        "baten",  # daten
        "major",  # mayor
        "toxic",  # topic
        "allee",  # alles
    }
)

# Bounds the work on long messages; no command needs more words than this.
_MAX_WORDS = 16
_MAX_TYPO_COMBINATIONS = 64


@dataclass(frozen=True, slots=True)
class _Phrase:
    """What a known phrase means; a phrase may mean several things depending on neighbours."""

    command: Command | None = None  # meaning when it stands alone
    offering: Offering | None = None  # offering it names next to START/STOP
    names_all_offerings: bool = False
    verb: Command | None = None  # START or STOP, as a full word or as a particle
    is_verb_stem: bool = False  # "melde": START or STOP only with a particle ("an", "ab")
    is_strict: bool = False


@dataclass(frozen=True, slots=True)
class _Word:
    text: str
    is_exact: bool  # False when it was corrected from a typo


def _phrase_key(phrase: str) -> tuple[str, ...]:
    """Normalise a vocabulary phrase the way messages are, dropping its filler words."""
    return tuple(word for word in normalize(phrase).split() if word not in _FILLER_WORDS)


def _build_phrases() -> dict[tuple[str, ...], _Phrase]:
    phrases: dict[tuple[str, ...], _Phrase] = {}

    def add(phrase: str, meaning: _Phrase) -> None:
        key = _phrase_key(phrase)
        existing = phrases.setdefault(key, meaning)
        if existing != meaning:
            raise ValueError(f"Keyword phrase {phrase!r} has two meanings: {existing}, {meaning}")

    offering_of = {Command.CHAT: Offering.CHAT, Command.INFO: Offering.INFO}
    for command, command_phrases in _COMMAND_PHRASES.items():
        for phrase in command_phrases:
            add(
                phrase,
                _Phrase(
                    command=command,
                    offering=offering_of.get(command),
                    verb=command if command in (Command.START, Command.STOP) else None,
                    is_strict=command in _STRICT_COMMANDS,
                ),
            )
    for phrase in _ALL_OFFERINGS_PHRASES:
        alone = Command.NOTIFY_ALL if phrase in _NOTIFY_ALL_WORDS else None
        add(phrase, _Phrase(command=alone, names_all_offerings=True))
    for verb, particles in _PARTICLES.items():
        for particle in particles:
            add(particle, _Phrase(verb=verb))
    for stem in _VERB_STEMS:
        add(stem, _Phrase(is_verb_stem=True))
    return phrases


_PHRASES = _build_phrases()
_LONGEST_PHRASE = max(len(key) for key in _PHRASES)
_PHRASE_WORDS = frozenset(word for key in _PHRASES for word in key)
_LENIENT_WORDS = frozenset(
    word for key, phrase in _PHRASES.items() if not phrase.is_strict for word in key
)
_STRICT_ONLY_WORDS = _PHRASE_WORDS - _LENIENT_WORDS
# Stems are no typo targets: "Frage an den Bürgermeister" must not become "trage ... an".
_TYPO_TARGETS = frozenset(
    word
    for word in (_PHRASE_WORDS - {normalize(stem) for stem in _VERB_STEMS})
    | _TYPO_TOLERANT_FILLER_WORDS
    if len(word) >= _MIN_TYPO_LENGTH and word != THUMBS_UP
)
_QUESTION_MARKS = frozenset("?\N{FULLWIDTH QUESTION MARK}\N{INVERTED QUESTION MARK}")


def match_keyword(text: str) -> Match | None:
    """Return the command ``text`` consists of, or ``None`` if it is an ordinary message.

    Every word must belong to the command, to an offering it names (START/STOP only) or to
    a small set of polite filler words. If the message can be read as two different
    commands (say, a typo one edit from both "abmelden" and "anmelden"), it matches neither.
    """
    stripped = "".join(text.split())
    if stripped and set(stripped) <= _QUESTION_MARKS:
        # A bare "?" is the universal cry for help; normalize() drops it as punctuation.
        return Match(Command.HELP)

    words = [_squeeze_repeats(word) for word in normalize(text).split()]
    if not words or len(words) > _MAX_WORDS or _is_thanks_for_something(words):
        return None

    readings: list[list[_Word]] = []
    for word in words:
        reading = _readings_of(word)
        if not reading:
            return None
        readings.append(reading)

    if math.prod(len(reading) for reading in readings) > _MAX_TYPO_COMBINATIONS:
        return None  # many words, each a typo of several others: not a command

    matches: set[Match] = set()
    for combination in itertools.product(*readings):
        meaningful = [word for word in combination if word.text not in _FILLER_WORDS]
        if not meaningful:
            continue
        for segments in _segmentations(meaningful):
            match = _interpret(segments)
            if match is not None:
                matches.add(match)
    if len(matches) == 1:
        return matches.pop()
    return None


def _squeeze_repeats(word: str) -> str:
    """Collapse runs of three or more equal characters: "stoooop", "jaaaa", "neeein"."""
    squeezed: list[str] = []
    for letter, run in itertools.groupby(word):
        count = len(list(run))
        squeezed.append(letter if count >= 3 else letter * count)
    return "".join(squeezed)


def _is_thanks_for_something(words: Sequence[str]) -> bool:
    """Whether the message thanks someone for something ("danke für die Info")."""
    return any(
        first in _THANKS_WORDS and second in _FOR_WORDS
        for first, second in itertools.pairwise(words)
    )


def _readings_of(word: str) -> list[_Word]:
    """The vocabulary words ``word`` may stand for: itself if known, else its typo fixes."""
    if word in _PHRASE_WORDS or word in _FILLER_WORDS:
        return [_Word(word, is_exact=True)]
    if len(word) < _MIN_TYPO_LENGTH or word in _REAL_WORDS_NEAR_VOCABULARY:
        return []
    candidates = sorted(target for target in _TYPO_TARGETS if _is_one_edit_apart(word, target))
    if any(candidate in _STRICT_ONLY_WORDS for candidate in candidates):
        # Never guess around a destructive command, not even towards a harmless one.
        return []
    return [_Word(candidate, is_exact=False) for candidate in candidates]


def _is_one_edit_apart(first: str, second: str) -> bool:
    """Whether two different words are Damerau-Levenshtein distance 1 apart.

    One substitution, insertion, deletion or swap of adjacent letters.
    """
    if first == second or abs(len(first) - len(second)) > 1:
        return False
    if len(first) == len(second):
        differences = [
            index for index, (a, b) in enumerate(zip(first, second, strict=True)) if a != b
        ]
        if len(differences) == 1:
            return True
        return (
            len(differences) == 2
            and differences[1] == differences[0] + 1
            and first[differences[0]] == second[differences[1]]
            and first[differences[1]] == second[differences[0]]
        )
    shorter, longer = sorted((first, second), key=len)
    for index, (short_letter, long_letter) in enumerate(zip(shorter, longer, strict=False)):
        if short_letter != long_letter:
            return shorter[index:] == longer[index + 1 :]
    return True  # the longer word only has one extra letter at the end


def _segmentations(words: Sequence[_Word]) -> Iterator[list[_Phrase]]:
    """Every way to cut ``words`` into known phrases, in order."""
    if not words:
        yield []
        return
    for length in range(1, min(_LONGEST_PHRASE, len(words)) + 1):
        head = words[:length]
        phrase = _PHRASES.get(tuple(word.text for word in head))
        if phrase is None or (phrase.is_strict and not all(word.is_exact for word in head)):
            continue
        for rest in _segmentations(words[length:]):
            yield [phrase, *rest]


def _interpret(segments: Sequence[_Phrase]) -> Match | None:
    """The single command a sequence of phrases expresses, or ``None`` if they disagree."""
    verbs = {segment.verb for segment in segments if segment.verb is not None}
    if len(verbs) > 1:
        return None  # "start stop"
    if verbs:
        (verb,) = verbs
        return _interpret_verb(verb, segments)
    commands = {segment.command for segment in segments}
    if len(commands) != 1:
        return None  # "info chat"
    (command,) = commands
    return None if command is None else Match(command)  # None: "alle" alone


def _interpret_verb(verb: Command, segments: Sequence[_Phrase]) -> Match | None:
    """Read START/STOP with any offerings the other segments name."""
    offerings: set[Offering] = set()
    names_all_offerings = False
    has_full_verb = False
    for segment in segments:
        if segment.verb == verb:
            has_full_verb = has_full_verb or segment.command == verb
        elif segment.is_verb_stem:
            has_full_verb = True  # completed by the particle that set ``verb``
        elif segment.offering is not None:
            offerings.add(segment.offering)
        elif segment.names_all_offerings:
            names_all_offerings = True
        else:
            return None  # "stop themen"
    if not has_full_verb and not offerings:
        # A bare particle ("aus"), or one with "alle": "Hallo an alle" is a greeting.
        return None
    if names_all_offerings or len(offerings) != 1:
        # "stop alle", or both offerings named: "stop info und chat".
        return Match(verb)
    (offering,) = offerings
    return Match(verb, offering)


# --- Referral codes -----------------------------------------------------------------------
# A shared post's invitation link pre-fills "START <code>" (channel.sharing). The code names
# the post, never the person who shared it. Letters without 0/O and 1/I/L, always with a digit,
# so "START jetzt" is never read as a code.
REFERRAL_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REFERRAL_CODE_LENGTH = 6
_REFERRAL_PATTERN = re.compile(
    rf"^\s*(?:start|starten)[\s:]+([A-Za-z0-9]{{{REFERRAL_CODE_LENGTH}}})\s*[.!]?\s*$",
    re.IGNORECASE,
)


def referral_code(text: str) -> str | None:
    """The referral code in "START <code>", upper-cased; None for anything else."""
    found = _REFERRAL_PATTERN.match(text or "")
    if found is None:
        return None
    code = found.group(1).upper()
    if not any(character.isdigit() for character in code):
        return None
    if not set(code) <= set(REFERRAL_ALPHABET):
        return None
    return code
