"""How a search result shows the matching message."""

from townhall.inbox.templatetags.inbox_tags import SNIPPET_CONTEXT, search_snippet


def test_the_match_is_marked_in_its_original_spelling():
    assert search_snippet("Wann kommt der Sperrmüll?", "SPERRMÜLL") == (
        "Wann kommt der <mark>Sperrmüll</mark>?"
    )


def test_a_long_message_is_cut_around_the_match():
    text = "a" * 200 + " Schlagloch " + "b" * 200

    snippet = search_snippet(text, "schlagloch")

    assert snippet.startswith("…") and snippet.endswith("…")
    assert "<mark>Schlagloch</mark>" in snippet
    assert len(snippet) < len("<mark></mark>") + len("Schlagloch") + 2 * SNIPPET_CONTEXT + 3


def test_text_without_the_word_is_shown_shortened_and_unmarked():
    # e.g. the citizen's name matched, not a message
    snippet = search_snippet("x" * 300, "Anna")

    assert "<mark>" not in snippet
    assert len(snippet) <= 2 * SNIPPET_CONTEXT


def test_markup_in_the_message_is_escaped():
    assert search_snippet("<script>alert(1)</script> Laterne", "laterne") == (
        "&lt;script&gt;alert(1)&lt;/script&gt; <mark>Laterne</mark>"
    )
