"""Logging in: a plain message for a wrong password, throttling (django-axes), the second
factor (TOTP), password reset by e-mail and sessions that end after inactivity."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.core import mail
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from townhall.audit.models import AuditEntry
from townhall.core import clock

PASSWORD = "Rathaus-Test-2025"
WRONG = "Rathaus-Test-2024"


@pytest.fixture
def office_user(db: None) -> User:
    user = User.objects.create_user(
        "sachbearbeitung", password=PASSWORD, is_staff=True, email="sb@musterstadt.example"
    )
    user.groups.add(Group.objects.get(name="Büro"))
    return user


def log_in(client: Client, password: str, username: str = "sachbearbeitung"):
    return client.post(reverse("staff:login"), {"username": username, "password": password})


def current_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_a_wrong_password_says_so_plainly_and_is_audited_without_it(
    client: Client, office_user: User
) -> None:
    response = log_in(client, WRONG)

    assert response.status_code == 200
    assert "Benutzername oder Passwort ist falsch." in response.content.decode()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.LOGIN_FAILED)
    assert entry.target_id == str(office_user.pk)
    assert WRONG not in str(entry.details)
    assert "sachbearbeitung" not in str(entry.details)
    assert len(entry.details["username_hash"]) == 16


def test_the_sixth_wrong_password_within_a_minute_is_refused(
    client: Client, office_user: User
) -> None:
    start = clock.now()
    for attempt in range(5):
        with time_machine.travel(start + timedelta(seconds=10 * attempt), tick=False):
            response = log_in(client, WRONG)
        assert response.status_code == 200
        assert "Benutzername oder Passwort ist falsch." in response.content.decode()

    with time_machine.travel(start + timedelta(seconds=55), tick=False):
        sixth = log_in(client, WRONG)
        # Even the right password is refused now.
        right = log_in(client, PASSWORD)

    assert sixth.status_code == 429
    assert "Zu viele fehlgeschlagene Anmeldungen" in sixth.content.decode()
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action=AuditEntry.Action.LOCKED_OUT).exists()
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.LOGIN).exists()


@pytest.mark.django_db
def test_one_address_trying_many_user_names_is_refused_too(client: Client) -> None:
    for number in range(5):
        assert log_in(client, WRONG, username=f"raten{number}").status_code == 200

    assert log_in(client, WRONG, username="raten5").status_code == 429


def test_after_the_cool_off_time_the_right_password_works_again(
    client: Client, office_user: User
) -> None:
    start = clock.now()
    with time_machine.travel(start, tick=False):
        for _attempt in range(6):
            log_in(client, WRONG)
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        response = log_in(client, PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(office_user.pk)


def test_a_user_with_an_authenticator_enters_the_code_after_the_password(
    client: Client, office_user: User
) -> None:
    device = TOTPDevice.objects.create(user=office_user, name="Authenticator", confirmed=True)

    response = client.post(
        reverse("staff:login"),
        {"username": "sachbearbeitung", "password": PASSWORD, "next": reverse("inbox:list")},
    )
    inbox = client.get(reverse("inbox:list"))

    # no page before the code
    assert response.status_code == 302
    assert inbox.status_code == 302
    assert inbox["Location"].startswith(reverse("staff:two_factor_verify"))

    wrong = client.post(
        reverse("staff:two_factor_verify"), {"token": "000000", "next": reverse("inbox:list")}
    )
    assert "Dieser Code stimmt nicht" in wrong.content.decode()
    assert AuditEntry.objects.filter(action=AuditEntry.Action.TWO_FACTOR_FAILED).count() == 1

    # django-otp throttles a second try for a second after a wrong code
    with time_machine.travel(clock.now() + timedelta(seconds=3), tick=False):
        device.refresh_from_db()
        right = client.post(
            reverse("staff:two_factor_verify"),
            {"token": current_code(device), "next": reverse("inbox:list")},
        )
    assert right.status_code == 302
    assert right["Location"] == reverse("inbox:list")
    assert client.get(reverse("inbox:list")).status_code == 200


def test_a_role_that_requires_two_factor_sends_its_members_to_the_setup(
    client: Client, office_user: User
) -> None:
    # given: the administration made two-factor login mandatory for the role Büro
    policy = Group.objects.get(name="Büro").policy
    policy.requires_two_factor = True
    policy.save()
    log_in(client, PASSWORD)

    # when: the member opens the inbox
    response = client.get(reverse("inbox:list"))

    # then: they set up an authenticator first, with a QR code
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff:two_factor_setup"))
    setup = client.get(response["Location"])
    assert "<svg" in setup.content.decode()
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7=]+)<', setup.content.decode())
    assert secret is not None
    device = TOTPDevice.objects.get(user=office_user, confirmed=False)
    confirmed = client.post(
        reverse("staff:two_factor_setup"),
        {"token": current_code(device), "next": reverse("inbox:list")},
    )
    assert confirmed["Location"] == reverse("inbox:list")
    assert TOTPDevice.objects.get(user=office_user).confirmed
    assert client.get(reverse("inbox:list")).status_code == 200
    assert AuditEntry.objects.filter(action=AuditEntry.Action.TWO_FACTOR_ENABLED).count() == 1


def test_a_forgotten_password_is_reset_by_e_mail(client: Client, office_user: User) -> None:
    response = client.post(reverse("staff:password_reset"), {"email": "sb@musterstadt.example"})

    assert response["Location"] == reverse("staff:password_reset_done")
    assert len(mail.outbox) == 1
    assert "neues Passwort" in mail.outbox[0].subject
    link = re.search(r"http://testserver(/passwort-neu/\S+/)", mail.outbox[0].body)
    assert link is not None
    form = client.get(link.group(1), follow=True)
    assert "Neues Passwort festlegen" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Neues-Rathaus-2026", "new_password2": "Neues-Rathaus-2026"},
    )
    assert done["Location"] == reverse("staff:password_reset_complete")
    assert log_in(Client(), "Neues-Rathaus-2026").status_code == 302
    assert AuditEntry.objects.filter(action=AuditEntry.Action.PASSWORD_RESET).count() == 1


def test_a_session_ends_after_thirty_idle_minutes_but_not_by_background_polls(
    client: Client, office_user: User
) -> None:
    start = clock.now()
    client.force_login(office_user)
    with time_machine.travel(start, tick=False):
        assert client.get(reverse("inbox:list")).status_code == 200
    # an open page polls for 29 minutes: no activity of the person
    with time_machine.travel(start + timedelta(minutes=29), tick=False):
        poll = client.get(reverse("inbox:list_poll"), headers={"X-Townhall-Background": "1"})
        assert poll.status_code in (200, 204)
    with time_machine.travel(start + timedelta(minutes=31), tick=False):
        response = client.get(reverse("inbox:list"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff:login"))
    assert AuditEntry.objects.filter(action=AuditEntry.Action.SESSION_EXPIRED).count() == 1
    login_page = client.get(response["Location"])
    assert "nach 30 Minuten ohne Aktivität abgemeldet" in login_page.content.decode()
