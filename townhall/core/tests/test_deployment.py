"""Townhall refuses to run insecurely, and the documented production environment is clean."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from townhall.core.deployment import SIMULATOR_CREDENTIALS

REPOSITORY = Path(__file__).resolve().parents[3]
PRODUCTION_ENV_FILE = REPOSITORY / "docs" / "production.env.example"


def documented_production_env() -> dict[str, str]:
    variables = {}
    for line in PRODUCTION_ENV_FILE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            variables[name.strip()] = value.strip()
    return variables


def manage(
    args: list[str], variables: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess:
    # Only what the documentation names (and the interpreter's basics): none of the test
    # run's own TOWNHALL_*, WHATSAPP_*, DATABASE_URL or REDIS_URL.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TOWNHALL_", "WHATSAPP_", "DATABASE_URL", "REDIS_URL", "DJANGO_"))
    }
    env.update(variables)
    env["TOWNHALL_DATA_DIR"] = str(tmp_path)
    if "DATABASE_URL" in variables:
        # A database that exists, so "migrate" fails on the checks, not on connecting.
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'townhall.sqlite3'}"
    return subprocess.run(
        [sys.executable, str(REPOSITORY / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_with_the_documented_production_env_prints_no_warning(tmp_path):
    result = manage(["check", "--deploy"], documented_production_env(), tmp_path)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


@pytest.mark.parametrize("variable", sorted(SIMULATOR_CREDENTIALS))
def test_check_deploy_fails_naming_a_missing_secret(tmp_path, variable):
    variables = documented_production_env()
    del variables[variable]

    result = manage(["check", "--deploy"], variables, tmp_path)

    assert result.returncode != 0
    assert re.search(rf"townhall\.E001\) {variable} is empty", result.stderr)
    # Only the missing one is named.
    assert result.stderr.count("townhall.E001") == 1


@pytest.mark.parametrize("variable", sorted(SIMULATOR_CREDENTIALS))
def test_migrate_refuses_the_simulators_public_secret_with_a_real_cloud_api(tmp_path, variable):
    variables = {**documented_production_env(), variable: SIMULATOR_CREDENTIALS[variable]}

    result = manage(["migrate", "--no-input"], variables, tmp_path)

    assert result.returncode != 0
    assert f"{variable} is empty or the simulator's public default" in result.stderr
    assert "Applying" not in result.stdout


def test_debug_with_a_public_host_is_an_error(tmp_path):
    variables = {**documented_production_env(), "TOWNHALL_DEBUG": "1"}

    result = manage(["check"], variables, tmp_path)

    assert result.returncode != 0
    assert "townhall.E002) TOWNHALL_DEBUG is on" in result.stderr


def test_the_embedded_demo_needs_no_configuration(tmp_path):
    result = manage(["check"], {}, tmp_path)

    assert result.returncode == 0, result.stderr


def test_https_settings_come_from_the_environment(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_PROXY_SSL_HEADER)"
    )

    result = manage(["shell", "--no-imports", "-c", code], documented_production_env(), tmp_path)
    embedded = manage(
        ["shell", "--no-imports", "-c", code.replace("s.SECURE_PROXY_SSL_HEADER", "0")],
        {},
        tmp_path,
    )

    assert result.stdout.strip() == (
        "True True True 31536000 True ('HTTP_X_FORWARDED_PROTO', 'https')"
    )
    assert embedded.stdout.strip() == "False False False 0 False 0"


# --- Content-Security-Policy --------------------------------------------------------------------

TEMPLATE_FOLDERS = sorted((REPOSITORY / "townhall").glob("*/templates"))
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\s(on[a-z]+|hx-on[:\w-]*)\s*=", re.IGNORECASE)
# hx-trigger="… [condition]" is evaluated with eval.
TRIGGER_FILTER = re.compile(r'hx-trigger="[^"]*\[')
# The policy allows a <style> block only with the response's nonce, and no style attribute.
STYLE_ATTRIBUTE = re.compile(r"<[a-z][^>]*\sstyle\s*=", re.IGNORECASE)
STYLE_WITHOUT_NONCE = re.compile(r'<style(?![^>]*\bnonce="\{\{ request\.csp_nonce \}\}")[^>]*>')


def test_no_template_of_any_app_has_inline_scripts_handlers_eval_or_unnonced_styles():
    offenders = []
    for folder in TEMPLATE_FOLDERS:
        for template in folder.rglob("*.html"):
            text = template.read_text()
            patterns = (
                INLINE_SCRIPT,
                EVENT_HANDLER,
                TRIGGER_FILTER,
                STYLE_ATTRIBUTE,
                STYLE_WITHOUT_NONCE,
            )
            for pattern in patterns:
                offenders += [
                    f"{template.relative_to(REPOSITORY)}: {match.group(0).strip()}"
                    for match in pattern.finditer(text)
                ]
    assert offenders == []


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/buergerservice/", "/datenschutz/", "/login/"])
def test_pages_carry_a_strict_content_security_policy(client: Client, path: str):
    response = client.get(path, follow=True)

    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in policy["style-src"]
    # The public pages' own <style> block carries this response's nonce.
    if path != "/login/":
        nonce = re.search(r"'nonce-([^']+)'", policy["style-src"])
        assert nonce is not None
        assert f'<style nonce="{nonce.group(1)}">' in response.content.decode()


def test_htmx_runs_without_eval():
    base = (REPOSITORY / "townhall/core/templates/base.html").read_text()
    simulator = (REPOSITORY / "townhall/simulator/templates/simulator/base.html").read_text()

    assert '"allowEval": false' in base
    assert '"allowEval": false' in simulator


@pytest.mark.django_db
def test_credentials_stored_on_the_settings_page_satisfy_the_check(settings):
    # given: the real Cloud API in the environment, its credentials not
    from townhall.citysettings import config
    from townhall.citysettings.actions import do_update_whatsapp_settings
    from townhall.core.checks import check_whatsapp_credentials
    from townhall.inbox.tests.factories import make_staff

    settings.WHATSAPP = {
        **settings.WHATSAPP,
        "API_BASE_URL": "https://graph.facebook.com/v21.0",
        "ACCESS_TOKEN": "",
        "APP_SECRET": "",
        "VERIFY_TOKEN": "",
    }
    config.invalidate()
    before = sorted(error.msg.split()[0] for error in check_whatsapp_credentials())

    # when: the administrator stores them on the settings page
    do_update_whatsapp_settings(
        phone_number_id="123456789012345",
        business_account_id="234567890123456",
        display_phone_number="4929321000000",
        secrets={
            "ACCESS_TOKEN": "EAAG-real-token-of-the-city",
            "APP_SECRET": "0f3c9a-real-app-secret",
            "VERIFY_TOKEN": "verify-token-of-the-city",
        },
        acting_user=make_staff(),
    )
    config.invalidate()

    # then: Townhall may start against Meta
    assert before == sorted(SIMULATOR_CREDENTIALS)
    assert check_whatsapp_credentials() == []
