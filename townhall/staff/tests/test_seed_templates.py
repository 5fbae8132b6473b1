"""The demo seeding gives Townhall the simulator's pre-approved templates, among them the
info channel's post templates with the "Mehr lesen" link, the urgent one with a TTL and the
daily summary's."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from townhall.whatsapp.models import MessageTemplate
from townhall.whatsapp.templates import approved_template, check_template


@pytest.mark.django_db
def test_seed_demo_creates_the_simulators_approved_templates_once() -> None:
    call_command("seed_demo", "--password", "Rathaus-Demo-2025!", stdout=StringIO())
    first = MessageTemplate.objects.count()
    output = StringIO()
    call_command("seed_demo", "--password", "Rathaus-Demo-2025!", stdout=output)

    # 12 general ones, the poll templates for 2–10 options and the poll results, de and en
    assert first == 12 + 18 + 2
    assert MessageTemplate.objects.count() == first
    assert "0 new message templates" in output.getvalue()
    for language, button in (("de", "Mehr lesen"), ("en", "Read more")):
        post = approved_template("info_kanal_beitrag", language)
        urgent = approved_template("info_kanal_dringend", language)
        assert post is not None and urgent is not None
        assert post.buttons[0]["text"] == button
        assert post.buttons[0]["url"] == "https://musterstadt.example/p/{{1}}"
        assert urgent.message_send_ttl_seconds == 7200
        # the channel's templates follow Meta's rules themselves
        assert check_template(post) == []
        assert check_template(urgent) == []
        for count in range(2, 11):
            poll = approved_template(f"info_kanal_umfrage_{count}", language)
            assert poll is not None and check_template(poll) == []
            assert len(poll.buttons) == count
        results = approved_template("info_kanal_umfrage_ergebnis", language)
        assert results is not None and check_template(results) == []
        # the daily summary's template, for citizens whose window is closed at six
        summary = approved_template("tageszusammenfassung", language)
        assert summary is not None and check_template(summary) == []
