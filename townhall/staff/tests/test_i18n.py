from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse


@pytest.mark.django_db
def test_pages_are_german_by_default(staff_client: Client) -> None:
    html = staff_client.get(reverse("staff:message_log")).content.decode()

    assert '<html lang="de">' in html
    assert "Stadt Musterstadt" in html
    assert "<h1>Nachrichten</h1>" in html
    assert "Abmelden" in html


@pytest.mark.django_db
def test_login_page_is_german_by_default(client: Client) -> None:
    html = client.get(reverse("staff:login")).content.decode()

    assert '<h1 class="login__title">Anmelden</h1>' in html
    assert "Benutzername" in html


@pytest.mark.django_db
def test_switching_to_english_keeps_the_page(staff_client: Client) -> None:
    # when
    response = staff_client.post(
        reverse("set_language"), {"language": "en", "next": reverse("staff:message_log")}
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("staff:message_log")
    html = staff_client.get(reverse("staff:message_log")).content.decode()
    assert '<html lang="en">' in html
    assert "City of Musterstadt" in html
    assert "<h1>Messages</h1>" in html
    assert "Log out" in html

    # and back
    staff_client.post(reverse("set_language"), {"language": "de"})
    assert "<h1>Nachrichten</h1>" in staff_client.get(reverse("staff:message_log")).content.decode()


def test_compiled_translations_are_shipped() -> None:
    for language in ("de", "en"):
        catalog = Path(settings.LOCALE_PATHS[0]) / language / "LC_MESSAGES" / "django.mo"
        assert catalog.is_file(), catalog
