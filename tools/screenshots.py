"""Screenshots of the staff app for the README, from the demo data.

    .venv/bin/python -m tools.screenshots            # writes docs/screenshots/*.png

Migrates a fresh SQLite database in a temporary data dir, loads the demo data
(``seed_demo``), starts the web server (granian) on a free loopback port and photographs
the pages with Debian's Chromium (Playwright), 1280 px wide, as the demo's staff user. The
PNGs are reduced to a 256-colour palette (Pillow), which keeps them small and sharp.
Emoji need a colour emoji font (Debian: ``apt-get install fonts-noto-color-emoji``).
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "screenshots"
WIDTH = 1280
HEIGHT = 800
# The throwaway demo database lives only for this run.
PASSWORD = secrets.token_urlsafe(16)
PALETTE_COLOURS = 256


@dataclass(frozen=True)
class Shot:
    name: str
    path: Callable[[], str]
    # Something to do on the page before the picture (fill in a form, open a detail).
    prepare: Callable[[Any], None] | None = None
    full_page: bool = False


def _anna_conversation() -> str:
    from django.urls import reverse

    from townhall.inbox.models import Conversation

    conversation = Conversation.objects.get(citizen__wa_id="4915112345601")
    return reverse("inbox:conversation", args=[conversation.pk])


def _first_subscriber() -> str:
    from django.urls import reverse

    from townhall.citizens.models import Citizen

    return reverse("staff:subscriber", args=[Citizen.objects.get(wa_id="4915112345601").pk])


def _write_post(page: Any) -> None:
    page.fill("input[name='title_de']", "Hauptstraße ab Montag gesperrt")
    page.fill(
        "textarea[name='text_de']",
        "*Vollsperrung Hauptstraße:* Von Montag bis Freitag wird die Hauptstraße zwischen "
        "Markt und Bahnhof saniert. Die Busse fahren über die Lindenallee. Danke für Ihr "
        "Verständnis!",
    )
    page.wait_for_timeout(1500)  # the preview and the audience follow the text


def _reverse(name: str) -> Callable[[], str]:
    def path() -> str:
        from django.urls import NoReverseMatch, reverse

        try:
            return reverse(name)
        except NoReverseMatch:
            return ""

    return path


SHOTS = (
    # The dashboard, where there is one; otherwise the inbox opens the tour.
    Shot("dashboard", _reverse("staff:dashboard")),
    Shot("inbox", _reverse("inbox:list")),
    Shot("conversation", _anna_conversation),
    Shot("composer", _reverse("channel:compose"), prepare=_write_post),
    Shot("subscribers", _reverse("staff:subscribers"), full_page=True),
    Shot("subscriber", _first_subscriber),
)


def optimise(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        reduced = image.convert("RGB").quantize(colors=PALETTE_COLOURS, dither=Image.Dither.NONE)
    reduced.save(path, optimize=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)

    data_dir = tempfile.mkdtemp(prefix="townhall-screenshots-")
    os.environ.update(
        {
            "TOWNHALL_DATA_DIR": data_dir,
            "TOWNHALL_SECRET_KEY": "screenshots",
            "TOWNHALL_HUEY_NAME": "townhall-screenshots",
            "DJANGO_SETTINGS_MODULE": "townhall.settings",
        }
    )
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))

    from townhall.core.processes import BIN_DIR, free_port, launch_chromium, wait_for_http

    port = free_port()
    os.environ["TOWNHALL_PORT"] = str(port)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # "=": a random password may begin with "-".
    call_command("seed_demo", f"--password={PASSWORD}", f"--base-url=http://127.0.0.1:{port}")
    from townhall.staff.management.commands.seed_demo import DEMO_USERNAME

    # The mayor's login, the one the demo prints first (seed_demo makes no superuser).
    username = DEMO_USERNAME
    # The ORM is not used inside Playwright's event loop: every path is known before.
    paths = [(shot, shot.path()) for shot in SHOTS]

    server = subprocess.Popen(  # noqa: S603 (our own server, fixed arguments)
        [
            str(BIN_DIR / "granian"),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "townhall.wsgi:application",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/login/", server)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            context = browser.new_context(
                viewport={"width": WIDTH, "height": HEIGHT},
                locale="de-DE",
                timezone_id="Europe/Berlin",
            )
            page = context.new_page()
            page.goto(f"{base}/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", PASSWORD)
            page.click("form .button--primary")
            page.wait_for_load_state("networkidle")
            taken = []
            for shot, path in paths:
                if not path:
                    continue
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                if shot.prepare is not None:
                    shot.prepare(page)
                target = args.output / f"{shot.name}.png"
                page.screenshot(path=str(target), full_page=shot.full_page)
                optimise(target)
                taken.append(target)
                print(f"{target}  {target.stat().st_size // 1024} KiB")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0 if taken else 1


if __name__ == "__main__":
    sys.exit(main())
