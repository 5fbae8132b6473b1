"""Erasure leaves no readable copy of the number, the name or a message in the database
files, and the data folder is readable by the service user only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from django.db import connection

from townhall.citizens.actions import do_erase_citizen, do_record_inbound_contact
from townhall.citizens.models import ConsentRecord
from townhall.core import clock
from townhall.whatsapp.actions import do_record_webhook_event
from townhall.whatsapp.tests.factories import make_inbound

WA_ID = "4917698765432"
NAME = "Xaver Quellmalz"
TEXT = "Mein Nachbar parkt seit Wochen auf dem Gehweg vor Nummer 17b"

REPOSITORY = Path(__file__).resolve().parents[3]


def database_files() -> bytes:
    name = Path(connection.settings_dict["NAME"])
    return b"".join(
        path.read_bytes() for path in (name, name.with_name(name.name + "-wal")) if path.exists()
    )


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's files; PostgreSQL: core.storage docs"
)
@pytest.mark.django_db(transaction=True)
def test_after_erasure_no_number_name_or_text_is_in_the_sqlite_files() -> None:
    # given: a citizen who wrote, with the raw webhook body stored, all committed and
    # copied into the database file as well as the write-ahead log
    citizen = do_record_inbound_contact(WA_ID, NAME, clock.now())
    make_inbound(citizen, TEXT)
    body = orjson.dumps({"entry": [{"changes": [{"value": {"contacts": [{"wa_id": WA_ID}]}}]}]})
    do_record_webhook_event(body + TEXT.encode(), is_readable=False)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
    assert WA_ID.encode() in database_files()
    assert TEXT.encode() in database_files()
    # when
    do_erase_citizen(citizen, channel=ConsentRecord.Channel.STAFF)
    # then
    files = database_files()
    assert WA_ID.encode() not in files
    assert NAME.encode() not in files
    assert TEXT.encode() not in files


@pytest.mark.django_db
def test_every_sqlite_connection_zeroes_deleted_content() -> None:
    if connection.vendor != "sqlite":
        assert "secure_delete" not in str(connection.settings_dict.get("OPTIONS", {}))
        return
    # A new connection as the web server, the worker and the tests open them.
    fresh = connection.get_new_connection(connection.get_connection_params())
    try:
        assert fresh.execute("PRAGMA secure_delete").fetchone() == (1,)
    finally:
        fresh.close()
    assert "PRAGMA secure_delete=ON" in connection.settings_dict["OPTIONS"]["init_command"]


def test_data_folder_files_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    # given: a fresh data folder, the embedded install (SQLite for data and tasks)
    data_dir = tmp_path / "data"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TOWNHALL_", "DATABASE_URL", "REDIS_URL", "DJANGO_"))
    }
    env.update(TOWNHALL_DATA_DIR=str(data_dir), TOWNHALL_SECRET_KEY="x" * 50)
    # when: migrated and the task storage opened, with a permissive umask
    script = (
        "import django, os; os.umask(0o022); django.setup(); "
        "from django.core.management import call_command; call_command('migrate', verbosity=0); "
        "from huey.contrib.djhuey import HUEY; HUEY.enqueue  # noqa\n"
        "HUEY.storage.enqueue(b'x', 0)"
    )
    subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "DJANGO_SETTINGS_MODULE": "townhall.settings"},
        cwd=REPOSITORY,
        check=True,
        timeout=120,
    )
    # then
    modes = {
        path.name: stat.S_IMODE(path.stat().st_mode)
        for path in [data_dir, *data_dir.iterdir()]
        if path.name != "staticfiles"
    }
    assert modes["data"] == 0o700
    assert modes["townhall.sqlite3"] == 0o600
    assert modes["huey.sqlite3"] == 0o600
    assert {name: mode for name, mode in modes.items() if mode & 0o077} == {}
