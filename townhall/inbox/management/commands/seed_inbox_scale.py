"""Load data for the inbox at city scale: citizens, chat subscriptions, conversations, messages.

    python manage.py seed_inbox_scale --conversations 100000 --messages-per-conversation 10

This is LOAD DATA for benchmarks and for trying the inbox with a realistic volume, not demo
data and not a way to import anything real. To be fast it writes rows in bulk, in batches,
past the actions: calling ``do_receive_chat_message`` and ``do_reply`` for a million
messages would take hours and queue real auto-replies. The command computes what the
actions would have stored instead, so the data is consistent: each conversation's
``last_message_*`` fields and ``unread_count`` match its messages, ``first_response_at`` is
its first outbound message, and the ``opened`` / ``first_response`` / ``resolved`` events
carry office-hours durations computed with the configured schedule. Rows go in with
``bulk_create``, or ``COPY`` on PostgreSQL (see ``RowWriter`` for why).

Numbers are fictional (``49170`` followed by eight digits, counting up), names come from
short lists of common German names, texts from a small pool of typical requests. Messages
alternate between citizen and office; conversations start evenly over the last 90 days;
the office answers in office hours; about a tenth stays unresolved, mostly from the last
two weeks.
Running the command again adds more citizens after the seeded ones. It refuses to touch a
database with other citizens (real data) unless ``--force`` is given.
"""

from __future__ import annotations

import dataclasses
import random
import time
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import JSONField, Model
from django.utils import timezone

from townhall.citizens.models import Citizen, ConsentRecord, ConsentText, Offering, Subscription
from townhall.core import clock
from townhall.inbox.actions import PREVIEW_CHARS
from townhall.inbox.models import Conversation, ConversationEvent, Label, Team
from townhall.inbox.office_hours import Schedule
from townhall.whatsapp.models import Message
from townhall.whatsapp.policy import Purpose

# Fictional German mobile numbers: the prefix, then a running number of eight digits.
NUMBER_PREFIX = "49170"
NUMBER_DIGITS = 8
PROVIDER_ID_PREFIX = "wamid.seed-"
STAFF_USERNAME_PREFIX = "seed-staff-"
# Conversations start evenly over this many days before now; those of the last RECENT_DAYS
# are often still in progress, older ones mostly resolved.
SPREAD_DAYS = 90
RECENT_DAYS = 14
# Seconds between two messages of a conversation.
MIN_GAP_SECONDS = 2 * 60
MAX_GAP_SECONDS = 4 * 60 * 60
# A resolved conversation is closed this long after its last message.
MAX_RESOLVE_DELAY_SECONDS = 2 * 60 * 60
# After a closed period the office answers within this many seconds of opening.
OPENING_DELAY_SECONDS = 90 * 60
# Tries to fit a conversation's timeline before now: by halving the gaps between its
# messages, then by starting it earlier.
SHRINK_ATTEMPTS = 5
TIMELINE_ATTEMPTS = 16
# Conversations per transaction (and rows per INSERT statement): a batch of 5000
# conversations with 10 messages each is ~70,000 rows, about 2 s of work on PostgreSQL.
DEFAULT_BATCH = 5000

# States by the conversation's age: most of the last two weeks' conversations are done, a
# few older ones were forgotten. About a tenth of all conversations stay unresolved, which
# is the backlog the inbox list shows (some 10,000 for the default 100,000).
RECENT_STATE_WEIGHTS = {
    Conversation.State.RESOLVED: 50,
    Conversation.State.WAITING: 20,
    Conversation.State.OPEN: 18,
    Conversation.State.NEW: 12,
}
OLD_STATE_WEIGHTS = {
    Conversation.State.RESOLVED: 97,
    Conversation.State.WAITING: 2,
    Conversation.State.OPEN: 1,
}
PRIORITY_WEIGHTS = {
    Conversation.Priority.LOW: 10,
    Conversation.Priority.NORMAL: 70,
    Conversation.Priority.HIGH: 15,
    Conversation.Priority.URGENT: 5,
}
# How many labels a conversation has, and how often.
LABEL_COUNT_WEIGHTS = {0: 50, 1: 35, 2: 15}
# Share of citizens who chose English; of conversations assigned to someone (the others
# are with a team or nobody); of assigned conversations handled in the assignee's team.
ENGLISH_SHARE = 0.05
ASSIGNED_SHARE = 0.75
TEAM_SHARE = 0.8
OWN_TEAM_SHARE = 0.85

FIRST_NAMES = (
    "Anna", "Lukas", "Marie", "Jonas", "Sophie", "Leon", "Emma", "Paul", "Mia", "Felix",
    "Hannah", "Maximilian", "Lea", "Elias", "Lena", "Ben", "Laura", "Finn", "Julia", "Noah",
    "Katharina", "Thomas", "Sabine", "Michael", "Ursula", "Hans", "Monika", "Jürgen", "Petra",
    "Wolfgang", "Gisela", "Stefan", "Ayşe", "Mehmet", "Olga", "Dimitri",
)  # fmt: skip
LAST_NAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder",
    "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange",
    "Schmitt", "Werner", "Krause", "Meier", "Lehmann", "Yılmaz", "Kowalski", "Nowak",
)  # fmt: skip
STAFF = (
    ("Maria", "Schmitz"), ("Jan", "Hermanns"), ("Claudia", "Peters"), ("Ralf", "Jansen"),
    ("Birgit", "Heinen"), ("Frank", "Krämer"), ("Nicole", "Vogel"), ("Dirk", "Engels"),
    ("Tanja", "Brandt"), ("Sven", "Kaiser"), ("Ines", "Roth"), ("Oliver", "Lorenz"),
)  # fmt: skip
TEAM_NAMES = (
    "Bürgerbüro", "Ordnungsamt", "Bauamt", "Standesamt", "Sozialamt", "Grünflächenamt",
)  # fmt: skip
LABELS = (
    ("Abfall", "#15803d"), ("Beschwerde", "#b42318"), ("Straßenschaden", "#c2410c"),
    ("Termin", "#0b5cad"), ("Lob", "#7e22ce"), ("Parken", "#0f766e"), ("Dringend", "#a16207"),
    ("Dokumente", "#5b6b7f"),
)  # fmt: skip
INBOUND_TEXTS = (
    "Guten Tag, wann wird bei uns in der Lindenstraße der Sperrmüll abgeholt?",
    "Hallo, die Straßenlaterne vor Hausnummer 12 ist seit einer Woche kaputt.",
    "Ich brauche einen neuen Personalausweis. Muss ich dafür einen Termin machen?",
    "Vor unserer Einfahrt parkt seit Tagen ein Auto ohne Kennzeichen.",
    "Wie melde ich meinen Hund an? Und wie hoch ist die Hundesteuer?",
    "Gibt es noch freie Plätze in der Kita am Stadtpark?",
    "Im Schlosspark liegt überall Müll, der Mülleimer quillt über.",
    "Danke für die schnelle Hilfe!",
    "Wann hat das Bürgerbüro am Samstag geöffnet?",
    "Ich möchte einen Umzug melden. Welche Unterlagen brauche ich?",
    "Auf dem Radweg an der Bahnhofstraße ist ein großes Schlagloch.",
    "Die Biotonne wurde diese Woche nicht geleert.",
    "Kann ich die Heiratsurkunde auch online beantragen?",
    "Der Spielplatz an der Schulstraße ist seit dem Sturm gesperrt. Wann öffnet er wieder?",
    "Ich habe meinen Termin vergessen, kann ich einen neuen bekommen?",
    "Ok, vielen Dank.",
    "Hier ist noch ein Foto vom Schaden.",
    "Wo kann ich einen Anwohnerparkausweis beantragen?",
    "Die Ampel an der Kreuzung Hauptstraße / Gartenweg ist ausgefallen.",
    "Ist das Hallenbad in den Ferien geöffnet?",
)
OUTBOUND_TEXTS = (
    "Guten Tag, vielen Dank für Ihre Nachricht. Wir kümmern uns darum.",
    "Der nächste Termin für die Sperrmüllabfuhr in Ihrer Straße ist am kommenden Dienstag.",
    "Wir haben den Schaden an den Bauhof weitergegeben. Danke für den Hinweis!",
    "Für einen neuen Personalausweis buchen Sie bitte einen Termin im Bürgerbüro.",
    "Könnten Sie uns bitte die genaue Adresse nennen?",
    "Das Ordnungsamt schaut sich die Situation heute noch an.",
    "Die Unterlagen finden Sie auf unserer Internetseite unter Bürgerservice.",
    "Gern geschehen! Melden Sie sich jederzeit wieder.",
    "Die Leerung wird morgen nachgeholt. Entschuldigen Sie die Unannehmlichkeiten.",
    "Wir melden uns, sobald wir mehr wissen.",
    "Sie können die Urkunde online beantragen, sie kommt dann per Post.",
    "Ein Termin ist am Donnerstag um 10:30 Uhr frei. Passt Ihnen das?",
)


# Columns written per table, in the order of the row tuples built below. Fields left out
# get their model default (see ``RowWriter``).
CITIZEN_COLUMNS = ("id", "wa_id", "profile_name", "created_at", "last_inbound_at", "language")
SUBSCRIPTION_COLUMNS = (
    "citizen_id", "offering", "state", "consent_text_id", "requested_at", "confirmed_at",
)  # fmt: skip
CONSENT_COLUMNS = ("citizen_id", "kind", "offering", "consent_text_id", "channel", "created_at")
CONVERSATION_COLUMNS = (
    "id", "citizen_id", "state", "priority", "assignee_id", "team_id", "last_message_at",
    "last_inbound_at", "last_message_preview", "last_message_direction", "unread_count",
    "opened_at", "first_response_at", "resolved_at",
)  # fmt: skip
MESSAGE_COLUMNS = (
    "provider_id", "direction", "wa_id", "profile_name", "type", "text", "payload", "status",
    "purpose", "attempts", "handled_at", "created_at", "status_updated_at",
)  # fmt: skip
EVENT_COLUMNS = (
    "conversation_id", "kind", "actor_id", "team_id", "created_at", "office_seconds", "data"
)  # fmt: skip
LABEL_LINK_COLUMNS = ("conversation_id", "label_id")

IN: str = Message.Direction.INBOUND
OUT: str = Message.Direction.OUTBOUND


class RowWriter:
    """Inserts rows given as tuples of field values (``columns`` names the fields by attname).

    On PostgreSQL with ``COPY``: Django 5.2's ``bulk_create`` there sends each column as an
    array that psycopg builds in Python, which measured ~3,400 rows/s on this 2-core machine
    (9 minutes for the default size); ``COPY`` is bounded by the server. Elsewhere (SQLite,
    the tests) with ``bulk_create`` in batches of ``rows_per_statement``. Fields that are not
    in ``columns`` get their model default, so both paths store the same row.
    """

    def __init__(self, rows_per_statement: int) -> None:
        self.rows_per_statement = rows_per_statement
        self.uses_copy = connection.vendor == "postgresql"

    def allocate_ids(self, model: type[Model], count: int) -> list[int]:
        """``count`` unused primary keys for ``model``, so children can point at rows that
        are written in the same batch. Load data only: assumes nobody else inserts."""
        table = model._meta.db_table
        with connection.cursor() as cursor:
            if self.uses_copy:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, count],
                )
                return [row[0] for row in cursor.fetchall()]
            cursor.execute(f"SELECT MAX(id) FROM {connection.ops.quote_name(table)}")  # noqa: S608 - our table name
            top = cursor.fetchone()[0] or 0
        return list(range(top + 1, top + 1 + count))

    def insert(self, model: type[Model], columns: tuple[str, ...], rows: list[tuple]) -> int:
        """Write ``rows``; returns how many. Caller runs this inside a transaction."""
        if not rows:
            return 0
        if not self.uses_copy:
            model._default_manager.bulk_create(
                [model(**dict(zip(columns, row, strict=True))) for row in rows],
                batch_size=self.rows_per_statement,
            )
            return len(rows)
        concrete = {field.attname: field for field in model._meta.concrete_fields}
        fields = [concrete[name] for name in columns]
        missing = [
            field
            for field in model._meta.concrete_fields
            if field.attname not in columns and not field.primary_key
        ]
        defaults = tuple(field.get_default() for field in missing)
        all_fields = [*fields, *missing]
        json_positions = [
            index for index, field in enumerate(all_fields) if isinstance(field, JSONField)
        ]
        quoted_columns = ", ".join(
            connection.ops.quote_name(str(field.column)) for field in all_fields
        )
        statement = (
            f"COPY {connection.ops.quote_name(model._meta.db_table)} ({quoted_columns}) FROM STDIN"
        )
        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            for row in rows:
                values = [*row, *defaults]
                for index in json_positions:
                    values[index] = orjson.dumps(values[index]).decode()
                copy.write_row(values)
        return len(rows)


def _pick(rng: random.Random, weights: dict[Any, int]) -> Any:
    """One key of ``weights``, chosen with the given relative weights."""
    return rng.choices(tuple(weights), weights=tuple(weights.values()))[0]


def seed_number(index: int) -> str:
    return f"{NUMBER_PREFIX}{index:0{NUMBER_DIGITS}d}"


def directions(state: str, count: int, trailing_inbound: int) -> list[str]:
    """Who wrote each of ``count`` messages: alternating, starting with the citizen.

    New conversations have only the citizen's messages (nobody answered yet); open ones end
    with ``trailing_inbound`` unanswered messages; waiting and resolved ones end with the
    office's answer.
    """
    if state == Conversation.State.NEW or count == 1:
        return [IN] * count
    tail = min(trailing_inbound, count - 1) if state == Conversation.State.OPEN else 0
    alternating = count - tail
    result = [OUT if (alternating - 1 - index) % 2 == 0 else IN for index in range(alternating)]
    result[0] = IN  # the citizen opened the conversation
    return result + [IN] * tail


def fast_schedule(first_day: date, last_day: date) -> Schedule:
    """The configured schedule with the public holidays of the seeded days turned into
    closed days: the same office seconds, without a holiday lookup per day and event."""
    schedule = Schedule.load()
    if not schedule.observes_holidays:
        return schedule
    holidays = set()
    day = first_day
    while day <= last_day:
        if schedule.holiday_name(day) is not None:
            holidays.add(day)
        day += timedelta(days=1)
    return dataclasses.replace(
        schedule, closed_days=schedule.closed_days | holidays, observes_holidays=False
    )


@dataclasses.dataclass
class Batch:
    """The rows of one batch as tuples, in the column order of the ``*_COLUMNS`` above."""

    citizens: list[tuple] = dataclasses.field(default_factory=list)
    subscriptions: list[tuple] = dataclasses.field(default_factory=list)
    consent_records: list[tuple] = dataclasses.field(default_factory=list)
    conversations: list[tuple] = dataclasses.field(default_factory=list)
    messages: list[tuple] = dataclasses.field(default_factory=list)
    events: list[tuple] = dataclasses.field(default_factory=list)
    label_links: list[tuple] = dataclasses.field(default_factory=list)

    def write(self, writer: RowWriter) -> int:
        """Insert every row, parents first. Returns the number of rows."""
        return (
            writer.insert(Citizen, CITIZEN_COLUMNS, self.citizens)
            + writer.insert(Subscription, SUBSCRIPTION_COLUMNS, self.subscriptions)
            + writer.insert(ConsentRecord, CONSENT_COLUMNS, self.consent_records)
            + writer.insert(Conversation, CONVERSATION_COLUMNS, self.conversations)
            + writer.insert(Message, MESSAGE_COLUMNS, self.messages)
            + writer.insert(ConversationEvent, EVENT_COLUMNS, self.events)
            + writer.insert(Conversation.labels.through, LABEL_LINK_COLUMNS, self.label_links)
        )


class Command(BaseCommand):
    help = "Bulk-create inbox load data (citizens, conversations, messages, events)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--conversations", type=int, default=100_000)
        parser.add_argument("--messages-per-conversation", type=int, default=10)
        parser.add_argument(
            "--batch",
            type=int,
            default=DEFAULT_BATCH,
            help="conversations per transaction (and rows per INSERT without COPY)",
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (reproducible data)")
        parser.add_argument(
            "--force",
            action="store_true",
            help="also run when the database holds citizens that were not seeded",
        )

    def handle(
        self,
        *args: Any,
        conversations: int,
        messages_per_conversation: int,
        batch: int,
        seed: int,
        force: bool,
        **options: Any,
    ) -> None:
        if conversations < 1 or messages_per_conversation < 1 or batch < 1:
            raise CommandError(
                "--conversations, --messages-per-conversation and --batch must be at least 1."
            )
        if not force and Citizen.objects.exclude(wa_id__startswith=NUMBER_PREFIX).exists():
            raise CommandError(
                "This database has citizens that were not seeded (real data?). "
                "Load data belongs in a database of its own; use --force to add it anyway."
            )
        first_index = Citizen.objects.filter(wa_id__startswith=NUMBER_PREFIX).count()
        if first_index + conversations > 10**NUMBER_DIGITS:
            raise CommandError("Not enough fictional numbers left for that many citizens.")

        self.now = clock.now()
        self.rng = random.Random(f"{seed}-{first_index}")  # noqa: S311 - load data, not secrets
        self.messages_per_conversation = messages_per_conversation
        self.schedule = fast_schedule(
            timezone.localdate(self.now - timedelta(days=SPREAD_DAYS + 1)),
            timezone.localdate(self.now),
        )
        self.staff_ids, self.staff_team_ids = self._staff_and_teams()
        self.team_ids = list(Team.objects.filter(name__in=TEAM_NAMES).values_list("pk", flat=True))
        self.label_ids = list(
            Label.objects.filter(name__in=[name for name, _ in LABELS]).values_list("pk", flat=True)
        )
        consent_text = ConsentText.objects.order_by("-published_at", "-id").first()
        self.consent_text_id = consent_text.pk if consent_text else None
        writer = RowWriter(rows_per_statement=batch)

        total_messages = conversations * messages_per_conversation
        method = "COPY" if writer.uses_copy else "bulk_create"
        self.stdout.write(
            f"Seeding {conversations:,} conversations with {total_messages:,} messages "
            f"(load data; {connection.vendor}, {method}), {batch:,} conversations per batch."
        )
        started = time.monotonic()
        rows = 0
        for batch_start in range(0, conversations, batch):
            size = min(batch, conversations - batch_start)
            with transaction.atomic():
                rows += self._build_batch(writer, first_index + batch_start, size).write(writer)
            elapsed = time.monotonic() - started
            done = batch_start + size
            self.stdout.write(
                f"  {done:>9,} / {conversations:,} conversations  "
                f"{done * messages_per_conversation:>11,} messages  "
                f"{rows:>11,} rows  {elapsed:7.1f} s  {rows / elapsed:>9,.0f} rows/s"
            )
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            analyze_started = time.monotonic()
            self._vacuum_analyze()
            self.stdout.write(
                f"  VACUUM ANALYZE in {time.monotonic() - analyze_started:.1f} s "
                "(fresh statistics for the query planner)"
            )
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {conversations:,} conversations, {total_messages:,} messages, "
                f"{rows:,} rows in {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s)."
            )
        )

    # --- fixed rows ---------------------------------------------------------------------------

    def _staff_and_teams(self) -> tuple[list[int], dict[int, int]]:
        """Ids of the seeded staff accounts (no usable password) and each one's team (one
        team per person); teams and labels are created too. Found again on later runs."""
        user_model = get_user_model()
        teams = [Team.objects.get_or_create(name=name)[0] for name in TEAM_NAMES]
        for name, color in LABELS:
            Label.objects.get_or_create(name=name, defaults={"color": color})
        staff_ids = []
        staff_team_ids = {}
        for index, (first_name, last_name) in enumerate(STAFF, start=1):
            user, created = user_model.objects.get_or_create(
                username=f"{STAFF_USERNAME_PREFIX}{index:02d}",
                defaults={"first_name": first_name, "last_name": last_name, "is_staff": True},
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            team = teams[(index - 1) % len(teams)]
            team.members.add(user)
            staff_ids.append(user.pk)
            staff_team_ids[user.pk] = team.pk
        return staff_ids, staff_team_ids

    # --- one batch ----------------------------------------------------------------------------

    def _build_batch(self, writer: RowWriter, first_index: int, size: int) -> Batch:
        """The rows of ``size`` citizens with their subscription, conversation, messages,
        events and labels."""
        batch = Batch()
        citizen_ids = writer.allocate_ids(Citizen, size)
        conversation_ids = writer.allocate_ids(Conversation, size)
        for offset in range(size):
            self._plan_conversation(
                batch, first_index + offset, citizen_ids[offset], conversation_ids[offset]
            )
        return batch

    def _plan_conversation(
        self, batch: Batch, index: int, citizen_id: int, conversation_id: int
    ) -> None:
        """Add one citizen, their conversation, messages and events to ``batch``."""
        rng = self.rng
        start = self.now - timedelta(days=SPREAD_DAYS) * rng.random()
        is_recent = self.now - start <= timedelta(days=RECENT_DAYS)
        state = _pick(rng, RECENT_STATE_WEIGHTS if is_recent else OLD_STATE_WEIGHTS)
        kinds = directions(state, self.messages_per_conversation, rng.randint(1, 3))
        times, resolved_at = self._timeline(
            kinds, start, is_resolved=state == Conversation.State.RESOLVED
        )
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        wa_id = seed_number(index)
        language = "en" if rng.random() < ENGLISH_SHARE else "de"

        texts = []
        for position, (at, kind) in enumerate(zip(times, kinds, strict=True)):
            provider_id = f"{PROVIDER_ID_PREFIX}{index}-{position}"
            if kind == IN:
                text = rng.choice(INBOUND_TEXTS)
                payload: dict[str, Any] = {"type": "text", "text": {"body": text}}
                batch.messages.append(
                    (provider_id, IN, wa_id, name, "text", text, payload,
                     Message.Status.RECEIVED, "", 0, at, at, at)
                )  # fmt: skip
            else:
                text = rng.choice(OUTBOUND_TEXTS)
                payload = {"type": "text", "text": {"body": text, "preview_url": False}}
                batch.messages.append(
                    (provider_id, OUT, wa_id, "", "text", text, payload,
                     Message.Status.READ, Purpose.CHAT.value, 1, None, at,
                     at + timedelta(minutes=1))
                )  # fmt: skip
            texts.append(text)

        # The citizen, their consent to the chat, and who handles the conversation.
        last_inbound_at = max(at for at, kind in zip(times, kinds, strict=True) if kind == IN)
        batch.citizens.append((citizen_id, wa_id, name, times[0], last_inbound_at, language))
        consented_at = times[0] - timedelta(minutes=1)
        batch.subscriptions.append(
            (citizen_id, Offering.CHAT, Subscription.State.ACTIVE, self.consent_text_id,
             consented_at - timedelta(minutes=1), consented_at)
        )  # fmt: skip
        batch.consent_records.append(
            (citizen_id, ConsentRecord.Kind.GRANTED, Offering.CHAT, self.consent_text_id,
             ConsentRecord.Channel.WHATSAPP_BUTTON, consented_at)
        )  # fmt: skip
        assignee_id = None
        if state != Conversation.State.NEW and rng.random() < ASSIGNED_SHARE:
            assignee_id = rng.choice(self.staff_ids)
        if assignee_id is not None and rng.random() < OWN_TEAM_SHARE:
            team_id = self.staff_team_ids[assignee_id]
        elif rng.random() < TEAM_SHARE:
            team_id = rng.choice(self.team_ids)
        else:
            team_id = None
        actor_id = assignee_id or rng.choice(self.staff_ids)

        # What the actions would have recorded.
        opened_at = times[0]
        first_response_at = next(
            (at for at, kind in zip(times, kinds, strict=True) if kind == OUT), None
        )
        batch.events.append(
            (conversation_id, ConversationEvent.Kind.OPENED, None, team_id, opened_at, None, {})
        )
        if first_response_at is not None:
            batch.events.append(
                (conversation_id, ConversationEvent.Kind.FIRST_RESPONSE, actor_id, team_id,
                 first_response_at, self.schedule.office_seconds(opened_at, first_response_at), {})
            )  # fmt: skip
        if resolved_at is not None:
            batch.events.append(
                (conversation_id, ConversationEvent.Kind.RESOLVED, actor_id, team_id, resolved_at,
                 self.schedule.office_seconds(opened_at, resolved_at), {})
            )  # fmt: skip
        # Unread: the citizen's messages since the office last wrote, while it is not closed.
        answered = max((i for i, kind in enumerate(kinds) if kind == OUT), default=-1)
        is_waiting_for_office = state in (Conversation.State.NEW, Conversation.State.OPEN)
        unread = len(kinds) - answered - 1 if is_waiting_for_office else 0
        batch.conversations.append(
            (conversation_id, citizen_id, state, _pick(rng, PRIORITY_WEIGHTS), assignee_id,
             team_id, times[-1], last_inbound_at, texts[-1][:PREVIEW_CHARS], kinds[-1], unread,
             opened_at, first_response_at, resolved_at)
        )  # fmt: skip
        label_count = min(_pick(rng, LABEL_COUNT_WEIGHTS), len(self.label_ids))
        batch.label_links.extend(
            (conversation_id, label_id) for label_id in rng.sample(self.label_ids, label_count)
        )

    def _timeline(
        self, kinds: list[str], start: datetime, *, is_resolved: bool
    ) -> tuple[list[datetime], datetime | None]:
        """When each message was written, the first at ``start``, and when the conversation
        was resolved (if it was).

        Citizens write at any hour; the office answers and resolves during office hours, a
        little after opening when the citizen wrote while it was closed. Everything ends
        before now: a timeline that would not is made quicker, then starts earlier.
        """
        rng = self.rng
        offsets = [rng.randint(MIN_GAP_SECONDS, MAX_GAP_SECONDS) for _ in kinds[1:]]
        for attempt in range(TIMELINE_ATTEMPTS):
            times = [start]
            for kind, gap in zip(kinds[1:], offsets, strict=True):
                times.append(self._office_time(times[-1] + timedelta(seconds=gap), kind))
            resolved_at = None
            if is_resolved:
                delay = timedelta(seconds=rng.randint(60, MAX_RESOLVE_DELAY_SECONDS))
                resolved_at = self._office_time(times[-1] + delay, Message.Direction.OUTBOUND)
            overflow = (resolved_at or times[-1]) - self.now
            if overflow < timedelta(0):
                return times, resolved_at
            if attempt < SHRINK_ATTEMPTS:
                # A quicker exchange first, so that recent days keep their conversations.
                offsets = [max(MIN_GAP_SECONDS // 2, offset // 2) for offset in offsets]
            else:
                # Then earlier and earlier: the office's answers move to an earlier opening
                # only when the start moves back past a whole closed period (a weekend).
                start -= (overflow + timedelta(hours=1)) * 2 ** (attempt - SHRINK_ATTEMPTS)
        # Not reached for timelines shorter than months: keep the shape, shift it back.
        shift = overflow + timedelta(minutes=1)
        return [at - shift for at in times], resolved_at - shift if resolved_at else None

    def _office_time(self, at: datetime, kind: str) -> datetime:
        """``at`` for the citizen's messages; for the office's, the next time it is open
        (plus up to an hour and a half of getting to it)."""
        if kind != Message.Direction.OUTBOUND or self.schedule.is_open(at):
            return at
        opening = self.schedule.next_opening(at)
        if opening is None:
            return at
        answered = opening + timedelta(seconds=self.rng.randint(60, OPENING_DELAY_SECONDS))
        # A short opening interval may close before the delay is over.
        return answered if self.schedule.is_open(answered) else opening

    def _vacuum_analyze(self) -> None:
        """Fresh planner statistics and visibility maps, as autovacuum would give a database
        that grew slowly; without them the first queries plan on empty-table estimates."""
        tables = [
            model._meta.db_table
            for model in (
                Citizen,
                Subscription,
                ConsentRecord,
                Conversation,
                Conversation.labels.through,
                ConversationEvent,
                Message,
            )
        ]
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(table)}")
