import pytest

from townhall.core.phone_numbers import format_wa_id, mask_wa_id, search_digit_variants


@pytest.mark.parametrize(
    ("wa_id", "masked", "formatted"),
    [
        ("4917612345604", "+49 176 •••• 5604", "+49 176 12345604"),
        ("4915112345601", "+49 1511 •••• 5601", "+49 1511 2345601"),
        ("4922119876543", "+49 221 •••• 6543", "+49 221 19876543"),
        ("12025550123", "+1 202 •••• 0123", "+1 202-555-0123"),
        ("4930123456", "+49 30 •••• 56", "+49 30 123456"),
        ("49", "•••• 49", "+49"),
    ],
)
def test_numbers_are_masked_in_lists_and_formatted_in_full(
    wa_id: str, masked: str, formatted: str
) -> None:
    assert mask_wa_id(wa_id) == masked
    assert format_wa_id(wa_id) == formatted


def test_masked_number_hides_enough_digits_to_prevent_calling() -> None:
    masked = mask_wa_id("4917612345604")

    assert "1234" not in masked
    assert sum(character.isdigit() for character in masked) == 9


@pytest.mark.parametrize(
    ("query", "variants"),
    [
        ("5604", ["5604"]),
        ("+49 176 1234-5604", ["4917612345604"]),
        ("0049 176 12345604", ["4917612345604"]),
        ("0176 / 123 456 04", ["017612345604", "4917612345604"]),
        ("0", ["0"]),
        ("00", []),
        ("Becker", []),
    ],
)
def test_search_reads_international_and_german_national_numbers(
    query: str, variants: list[str]
) -> None:
    assert search_digit_variants(query) == variants
