import pytest

from townhall.citizens.keywords import Command, Match, Offering, match_keyword, normalize

START = Match(Command.START)
STOP = Match(Command.STOP)
STOP_INFO = Match(Command.STOP, Offering.INFO)
STOP_CHAT = Match(Command.STOP, Offering.CHAT)
START_INFO = Match(Command.START, Offering.INFO)
START_CHAT = Match(Command.START, Offering.CHAT)
TOPICS = Match(Command.TOPICS)
INFO = Match(Command.INFO)
CHAT = Match(Command.CHAT)
HELP = Match(Command.HELP)
MY_DATA = Match(Command.MY_DATA)
DELETE = Match(Command.DELETE)
SETTINGS = Match(Command.SETTINGS)
YES = Match(Command.YES)
NO = Match(Command.NO)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # START
        ("START", START),
        ("start", START),
        ("Start 👋", START),
        ("👉 start", START),
        ("  start  ", START),
        ("anmelden", START),
        ("Anmeldung", START),
        ("Starten!", START),
        ("subscribe", START),
        ("Hallo, ich möchte mich anmelden", START),
        ("melde mich an", START),
        ("Anmeldung für den Info-Kanal", START_INFO),
        ("start info", START_INFO),
        ("Info an", START_INFO),
        ("anmelden chat", START_CHAT),
        # STOP
        ("stop", STOP),
        ("Stop.", STOP),
        ("STOP!!!", STOP),
        ("Stopp", STOP),
        ("STOPP!!", STOP),
        ("stop 🙏", STOP),
        ("stooooop", STOP),
        ("bitte stop", STOP),
        ("stop bitte", STOP),
        ("Abmelden bitte", STOP),
        ("bitte abmelden danke", STOP),
        ("ich möchte mich abmelden", STOP),
        ("Ich möchte mich jetzt sofort abmelden.", STOP),
        ("I want to unsubscribe", STOP),
        ("abbestellen", STOP),
        ("Austragen", STOP),
        ("beenden", STOP),
        ("Ich melde mich ab", STOP),
        ("stop alle", STOP),
        ("stop all", STOP),
        ("Stop info und chat", STOP),
        ("stop info", STOP_INFO),
        ("Stopp Info-Kanal", STOP_INFO),
        ("stop infokanal", STOP_INFO),
        ("Abmelden vom Info Kanal", STOP_INFO),
        ("Ich melde mich vom Info-Kanal ab", STOP_INFO),
        ("abmelden chat", STOP_CHAT),
        ("abmelden vom chat", STOP_CHAT),
        ("Chat aus", STOP_CHAT),
        ("Chat mit der Bürgermeisterin beenden", STOP_CHAT),
        # Typos in long words, one edit away.
        ("abmleden", STOP),
        ("stpop", STOP),
        ("Abmeldnug", STOP),
        ("anmelen", START),
        ("bitte abmelden dnake", STOP),
        ("Buergermeistr", CHAT),
        # TOPICS
        ("Themen", TOPICS),
        ("thema", TOPICS),
        ("topics", TOPICS),
        ("THEMEN ÄNDERN", TOPICS),
        ("Themen aendern", TOPICS),
        # INFO
        ("info", INFO),
        ("Info-Kanal", INFO),
        ("infokanal", INFO),
        ("info kanal", INFO),
        ("News", INFO),
        # CHAT
        ("chat", CHAT),
        ("Chat mit dem Bürgermeister", CHAT),
        ("Bürgermeister", CHAT),
        ("buergermeister", CHAT),
        # HELP
        ("hilfe", HELP),
        ("Hilfe?", HELP),
        ("?", HELP),
        ("??", HELP),
        ("help", HELP),
        ("Menü", HELP),
        ("menu", HELP),
        # MY_DATA
        ("Meine Daten", MY_DATA),
        ("meine daten bitte", MY_DATA),
        ("my data", MY_DATA),
        ("Auskunft", MY_DATA),
        ("Datenauskunft", MY_DATA),
        # DELETE
        ("LÖSCHEN", DELETE),
        ("loeschen", DELETE),
        ("Löschen!", DELETE),
        ("löschen", DELETE),
        ("delete", DELETE),
        ("delete my data", DELETE),
        ("Meine Daten löschen", DELETE),
        ("Konto löschen", DELETE),
        # SETTINGS
        ("Einstellungen", SETTINGS),
        ("settings", SETTINGS),
        ("Präferenzen", SETTINGS),
        # YES
        ("ja", YES),
        ("JA", YES),
        ("Ja!", YES),
        ("yes", YES),
        ("jo", YES),
        ("jup", YES),
        ("ok", YES),
        ("Okay.", YES),
        ("👍", YES),
        ("👍🏽", YES),
        ("Ja, ich stimme zu", YES),
        ("Ich stimme zu.", YES),
        ("ja bitte", YES),
        ("jaaaa", YES),
        # NO
        ("nein", NO),
        ("Nein danke", NO),
        ("no", NO),
        ("Nö", NO),
        ("abbrechen", NO),
        ("Cancel", NO),
        ("Ich stimme nicht zu", NO),
    ],
)
def test_match_keyword_recognises_command(text: str, expected: Match) -> None:
    assert match_keyword(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # Sentences that merely contain a keyword go to the mayor's office.
        "Die Ampel an der Hauptstraße ist kaputt, bitte stoppen Sie den Verkehr",
        "Wann startet das Stadtfest?",
        "Ich finde den Chat super",
        "Info zur Baustelle Bahnhofstraße?",
        "information about the festival",
        "Wo kann ich mich für den Marathon anmelden?",
        "Hilfe, mein Keller ist überflutet",
        "Meine Daten haben sich geändert",
        "Löschen Sie bitte das Graffiti",
        "Ja, aber erst morgen",
        "Der Chat funktioniert nicht",
        "Danke für die Info!",
        "thanks for the help",
        "Hallo an alle",
        "Stadt Info",
        # Negations never count as fillers.
        "Bitte nicht löschen",
        "don't stop",
        # Nothing, or nothing but filler, emoji or numbers.
        "",
        "   ",
        "😀",
        "🙏🙏",
        "Hallo",
        "danke",
        "12345",
        "0151 1234567",
        # Words that only resemble a keyword.
        "stopover",
        "Chatgruppe",
        "shop",
        "into",
        "Stadt",
        # Two commands at once.
        "stop start",
        "ja nein",
        "info chat",
        # Particles and "alle" say nothing on their own.
        "aus",
        "alle",
        # DELETE is strict: no typo tolerance, not even near it.
        "loeschn",
        "Datne löschen",
        # One edit from both "abmelden" and "anmelden": refuse rather than guess.
        "amelden",
        "akmelden",
    ],
)
def test_match_keyword_ignores_ordinary_message(text: str) -> None:
    assert match_keyword(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Löschen", "loschen"),
        ("LOESCHEN", "loschen"),
        ("Straße", "strasse"),
        ("  Stopp   Info-Kanal!! ", "stopp info kanal"),
        ("Café 🙏", "cafe"),
        ("Ja, ich stimme zu 👍🏽", "ja ich stimme zu 👍"),
        ("don't", "dont"),
        ("😀", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected
