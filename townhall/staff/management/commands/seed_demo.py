"""Demo data for the fictional city of Musterstadt (NRW): one staff login per role,
conversations and the info channel's posts (``townhall.channel.demo``).

Safe to run again: messages have fixed provider ids and are only created once; the staff
users get a new password on every run.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.urls import reverse

from townhall.channel.demo import seed_channel_demo
from townhall.citizens.actions import (
    do_record_inbound_contact,
    do_set_topics,
    do_subscribe_directly,
)
from townhall.citizens.models import (
    Citizen,
    ConsentRecord,
    Offering,
    Subscription,
    TopicSubscription,
)
from townhall.core import clock
from townhall.inbox.models import CannedResponse, Conversation, ConversationEvent, Label, Team
from townhall.inbox.office_hours import Schedule
from townhall.simulator.personas import persona_name
from townhall.staff import roles
from townhall.staff.actions import do_set_up_staff_user
from townhall.whatsapp.models import Message, MessageStatusEvent
from townhall.whatsapp.template_actions import do_import_templates

# One login per role (role, user name, first name, last name); all share the printed
# password. None is a superuser: each sees what their role may see.
DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    (roles.MAYOR, "buergermeisterin", "Sabine", "Keller"),
    (roles.OFFICE, "buero", "Maria", "Schulz"),
    (roles.EDITORS, "redaktion", "Jonas", "Brandt"),
    (roles.APPROVAL, "freigabe", "Ayşe", "Demir"),
    (roles.ANALYSIS, "auswertung", "Tobias", "Lang"),
    (roles.ADMINISTRATION, "verwaltung", "Frank", "Weber"),
)
DEMO_USERNAME = "buergermeisterin"
DEMO_OFFICE_USERNAME = "buero"
DEMO_EMAIL_DOMAIN = "musterstadt.example"
PROVIDER_ID_PREFIX = "wamid.demo-"
# Without look-alike characters (0/O, 1/l/I), so the password can be typed from the screen.
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105 - an alphabet
PASSWORD_GROUPS = 4
PASSWORD_GROUP_LENGTH = 4

IN = Message.Direction.INBOUND
OUT = Message.Direction.OUTBOUND
# Seconds after queueing at which each status webhook of a demo message arrived.
STATUS_DELAYS = {"sent": 2, "delivered": 5, "read": 90, "failed": 3}
READ = ("sent", "delivered", "read")
DELIVERED = ("sent", "delivered")
SENT = ("sent",)


@dataclass(frozen=True)
class DemoMessage:
    """One message of a demo conversation, written ``age`` before the first seeding."""

    key: str
    direction: str
    age: timedelta
    text: str = ""
    type: str = "text"
    # The type's object, as stored under payload[type]; built from ``text`` when empty.
    content: dict[str, Any] = field(default_factory=dict)
    # Outbound: the status webhooks this message received, in order.
    statuses: tuple[str, ...] = ()
    error: tuple[int, str] | None = None
    reply_to: str = ""


@dataclass(frozen=True)
class DemoCitizen:
    wa_id: str
    messages: tuple[DemoMessage, ...]

    @property
    def profile_name(self) -> str:
        # The simulator's phones are these citizens: one list of names and numbers.
        return persona_name(self.wa_id)


def ago(*, days: int = 0, hours: int = 0, minutes: int = 0) -> timedelta:
    return timedelta(days=days, hours=hours, minutes=minutes)


DEMO_CITIZENS: tuple[DemoCitizen, ...] = (
    DemoCitizen(
        "4915112345601",
        (
            DemoMessage(
                "pothole-1",
                IN,
                ago(minutes=95),
                "Guten Tag! In der Hauptstraße auf Höhe der Hausnummer 27 ist seit letzter "
                "Woche ein tiefes Schlagloch. Heute Morgen wäre dort fast ein Radfahrer gestürzt.",
            ),
            DemoMessage(
                "pothole-2",
                OUT,
                ago(minutes=71),
                "Guten Tag Frau Schneider, vielen Dank für Ihren Hinweis! Wir haben ihn an den "
                "Baubetriebshof weitergegeben. Die Stelle wird heute noch abgesichert und bis "
                "Freitag ausgebessert.",
                statuses=READ,
            ),
            DemoMessage(
                "pothole-3",
                IN,
                ago(minutes=64),
                "Super, vielen Dank für die schnelle Antwort!",
            ),
            DemoMessage(
                "pothole-4",
                IN,
                ago(minutes=63),
                type="reaction",
                content={
                    "message_id": f"{PROVIDER_ID_PREFIX}4915112345601-pothole-2",
                    "emoji": "👍",
                },
            ),
        ),
    ),
    DemoCitizen(
        "4916012345602",
        (
            DemoMessage(
                "office-hours-1",
                IN,
                ago(days=2, hours=6),
                "Hallo, wann hat das Bürgerbüro am Samstag geöffnet? Ich muss meinen neuen "
                "Personalausweis abholen.",
            ),
            DemoMessage(
                "office-hours-2",
                OUT,
                ago(days=2, hours=5, minutes=31),
                "Hallo Herr Yılmaz, das Bürgerbüro im Rathaus hat samstags von 9 bis 12 Uhr "
                "geöffnet. Für die Abholung brauchen Sie keinen Termin. Bitte bringen Sie Ihren "
                "alten Ausweis mit.",
                statuses=READ,
            ),
            DemoMessage(
                "office-hours-3",
                OUT,
                ago(days=2, hours=5, minutes=30),
                "Können wir Ihnen sonst noch weiterhelfen?",
                type="interactive",
                content={
                    "type": "button",
                    "body": {"text": "Können wir Ihnen sonst noch weiterhelfen?"},
                    "action": {
                        "buttons": [
                            {"type": "reply", "reply": {"id": "more-help", "title": "Ja, bitte"}},
                            {"type": "reply", "reply": {"id": "no-help", "title": "Nein, danke"}},
                        ]
                    },
                },
                statuses=READ,
            ),
            DemoMessage(
                "office-hours-4",
                IN,
                ago(days=2, hours=5, minutes=26),
                "Nein, danke",
                type="interactive",
                content={
                    "type": "button_reply",
                    "button_reply": {"id": "no-help", "title": "Nein, danke"},
                },
                reply_to="office-hours-3",
            ),
        ),
    ),
    DemoCitizen(
        "4917012345603",
        (
            DemoMessage(
                "bookcase-1",
                IN,
                ago(days=4, hours=3),
                "Liebe Stadtverwaltung, ich hätte eine Idee: Wie wäre es mit einem offenen "
                "Bücherschrank am Marktplatz? In anderen Städten funktioniert das toll, und "
                "viele Nachbarn würden Bücher spenden.",
            ),
            DemoMessage(
                "bookcase-2",
                OUT,
                ago(days=3, hours=20),
                "Liebe Frau Hoffmann, vielen Dank für Ihre schöne Idee! Wir haben sie an den "
                "Ausschuss für Kultur und Bildung weitergegeben. Er berät in seiner nächsten "
                "Sitzung darüber, wir melden uns danach bei Ihnen.",
                statuses=READ,
            ),
            DemoMessage(
                "bookcase-3",
                IN,
                ago(days=3, hours=18),
                "Toll, danke! Ich würde mich auch gern ehrenamtlich um den Schrank kümmern.",
            ),
        ),
    ),
    DemoCitizen(
        "4917612345604",
        (
            DemoMessage(
                "noise-1",
                IN,
                ago(hours=27),
                "Auf der Baustelle in der Bahnhofstraße wird schon ab 6 Uhr morgens "
                "gearbeitet, sogar am Samstag. Ist das überhaupt erlaubt?",
            ),
            DemoMessage(
                "noise-2",
                OUT,
                ago(hours=25, minutes=40),
                "Guten Morgen Herr Becker, Bauarbeiten sind werktags zwischen 7 und 20 Uhr "
                "zulässig. Wir haben das Ordnungsamt gebeten, die Baustelle zu überprüfen.",
                statuses=READ,
            ),
            DemoMessage(
                "noise-3",
                IN,
                ago(hours=3),
                "Danke. Heute ging es allerdings wieder um 6:15 Uhr los.",
                reply_to="noise-2",
            ),
            DemoMessage(
                "noise-4",
                OUT,
                ago(hours=2, minutes=30),
                "Vielen Dank für die Rückmeldung. Das Ordnungsamt ist informiert und wird "
                "morgen früh vor Ort sein.",
                statuses=SENT,
            ),
        ),
    ),
    DemoCitizen(
        "4915112345605",
        (
            DemoMessage(
                "festival-1",
                IN,
                ago(days=6, hours=2),
                "Ich wollte einfach mal Danke sagen: Das Stadtfest am Wochenende war "
                "wunderschön! Besonders die Musik auf dem Marktplatz hat uns gefallen.",
            ),
            DemoMessage(
                "festival-2",
                OUT,
                ago(days=5, hours=22),
                "Liebe Frau Krüger, herzlichen Dank für Ihr Lob! Wir geben es gern an das "
                "Organisationsteam und die vielen Ehrenamtlichen weiter.",
                statuses=READ,
            ),
            DemoMessage(
                "festival-3",
                IN,
                ago(days=5, hours=21, minutes=40),
                type="reaction",
                content={
                    "message_id": f"{PROVIDER_ID_PREFIX}4915112345605-festival-2",
                    "emoji": "❤️",
                },
            ),
        ),
    ),
    DemoCitizen(
        "4916012345606",
        (
            DemoMessage(
                "bulky-waste-1",
                IN,
                ago(days=3, hours=7),
                "Wie bekomme ich einen Termin für die Sperrmüllabholung? Ich habe ein altes "
                "Sofa und einen Kleiderschrank.",
            ),
            DemoMessage(
                "bulky-waste-2",
                OUT,
                ago(days=3, hours=6, minutes=25),
                "Guten Tag Herr Wagner, Sperrmüll holen wir zweimal im Jahr kostenlos bei "
                "Ihnen ab. Den Termin vereinbaren Sie beim Abfallservice im Rathaus, Zimmer "
                "104, oder telefonisch montags bis freitags von 8 bis 16 Uhr.",
                statuses=DELIVERED,
            ),
        ),
    ),
    DemoCitizen(
        "4917012345607",
        (
            DemoMessage(
                "street-lamp-1",
                IN,
                ago(hours=40),
                "Die Straßenlaterne vor dem Spielplatz in der Lindenallee ist seit Tagen "
                "kaputt. Abends ist es dort stockdunkel.",
                type="image",
                content={
                    "id": "1048576000000001",
                    "mime_type": "image/jpeg",
                    "sha256": "4c1f2b8e6a0d4d6f9b3e7a5c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e",
                    "caption": "Die Straßenlaterne vor dem Spielplatz in der Lindenallee ist "
                    "seit Tagen kaputt. Abends ist es dort stockdunkel.",
                },
            ),
            DemoMessage(
                "street-lamp-2",
                IN,
                ago(hours=39, minutes=58),
                "Spielplatz Lindenallee",
                type="location",
                content={
                    "latitude": 51.51783,
                    "longitude": 7.46218,
                    "name": "Spielplatz Lindenallee",
                    "address": "Lindenallee 12, 44100 Musterstadt",
                },
            ),
            DemoMessage(
                "street-lamp-3",
                OUT,
                ago(hours=22),
                "Danke, Frau Fischer! Wir haben die Störung an die Stadtwerke gemeldet. Die "
                "Laterne wird in den nächsten Tagen repariert.",
                statuses=READ,
            ),
        ),
    ),
    DemoCitizen(
        "4917612345608",
        (
            DemoMessage(
                "repair-cafe-1",
                IN,
                ago(days=8, hours=4),
                "Gibt es diesen Monat wieder ein Repair-Café im Bürgerhaus?",
            ),
            DemoMessage(
                "repair-cafe-2",
                OUT,
                ago(days=8, hours=3),
                "Guten Tag Herr Schmitz, ja: Das nächste Repair-Café ist am letzten Samstag "
                "des Monats von 10 bis 14 Uhr im Bürgerhaus.",
                statuses=("failed",),
                error=(131026, "Message undeliverable"),
            ),
        ),
    ),
)


def seed_templates() -> int:
    """The simulator's pre-approved templates as APPROVED rows, so the demo can send posts
    to citizens outside their window at once (against Meta, the sync imports them)."""
    from townhall.simulator.message_templates import load_templates

    return do_import_templates(template.to_graph() for template in load_templates())


def generate_password() -> str:
    groups = (
        "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_GROUP_LENGTH))
        for _ in range(PASSWORD_GROUPS)
    )
    return "-".join(groups)


# Which demo citizens also receive the info channel, and with which topics.
DEMO_INFO_TOPICS: tuple[tuple[str, ...], ...] = (
    ("dringend", "verkehr", "veranstaltungen", "stadt"),
    ("dringend", "verkehr"),
    (),
    ("veranstaltungen",),
    ("dringend", "stadt"),
    (),
    ("dringend",),
    ("verkehr", "veranstaltungen"),
)


# Days before the first seeding on which each demo citizen subscribed (DEMO_CITIZENS order):
# the info channel's readers before its first demo post (27 days ago), the two who only chat
# within the dashboard's 30 days, so its charts show the history of a running service
# rather than everyone joining today.
DEMO_JOINED_DAYS_AGO = (44, 41, 21, 38, 35, 9, 32, 30)


def subscribe_demo_citizens(now: datetime) -> None:
    """Everyone in the demo chats with the mayor's office (consent recorded through the same
    actions as the bot); most also receive the info channel with some topics."""
    channel = ConsentRecord.Channel.WHATSAPP_BUTTON
    for demo, topics, days_ago in zip(
        DEMO_CITIZENS, DEMO_INFO_TOPICS, DEMO_JOINED_DAYS_AGO, strict=True
    ):
        citizen = Citizen.objects.get(wa_id=demo.wa_id)
        offerings = [Offering.CHAT, Offering.INFO] if topics else [Offering.CHAT]
        do_subscribe_directly(citizen, offerings, channel=channel)
        if topics:
            do_set_topics(citizen, topics, channel=channel)
        # Dated back after the fact; a second seeding finds them older and leaves them.
        joined_at = now - ago(days=days_ago)
        ConsentRecord.objects.filter(citizen=citizen, created_at__gt=joined_at).update(
            created_at=joined_at
        )
        Subscription.objects.filter(citizen=citizen, requested_at__gt=joined_at).update(
            requested_at=joined_at, confirmed_at=joined_at
        )
        TopicSubscription.objects.filter(citizen=citizen, updated_at__gt=joined_at).update(
            updated_at=joined_at
        )
        Citizen.objects.filter(pk=citizen.pk, created_at__gt=joined_at).update(created_at=joined_at)


DEMO_TEAMS = ("Bürgermeisterbüro", "Ordnungsamt", "Presse")
DEMO_LABELS = (
    ("Straßen & Wege", "#b45309"),
    ("Idee", "#0f766e"),
    ("Lob", "#15803d"),
    ("Beschwerde", "#b91c1c"),
)
DEMO_CANNED_RESPONSES = (
    (
        "Danke, wir kümmern uns",
        "Guten Tag {citizen_name}, vielen Dank für Ihren Hinweis! Wir haben ihn an die "
        "zuständige Stelle weitergegeben und melden uns, sobald es Neuigkeiten gibt.",
    ),
    (
        "Öffnungszeiten Bürgerbüro",
        "Das Bürgerbüro im Rathaus ist Mo–Mi 8–16 Uhr, Do 8–18 Uhr und Fr 8–12 Uhr geöffnet. "
        "Termine können Sie online buchen.",
    ),
    (
        "Notfall",
        "Bitte wenden Sie sich in Notfällen immer an die 110 (Polizei) oder 112 (Feuerwehr, "
        "Rettungsdienst). Dieser Chat ist nicht rund um die Uhr besetzt.",
    ),
)
# A resolved demo conversation was closed this long after its last message.
DEMO_RESOLVED_AFTER = timedelta(minutes=12)
# (team, labels, state) per demo citizen, in DEMO_CITIZENS order.
DEMO_CONVERSATIONS = (
    ("Ordnungsamt", ("Straßen & Wege",), Conversation.State.OPEN),
    ("Bürgermeisterbüro", (), Conversation.State.RESOLVED),
    ("Bürgermeisterbüro", ("Idee",), Conversation.State.WAITING),
    ("Ordnungsamt", ("Beschwerde",), Conversation.State.NEW),
    ("Presse", ("Lob",), Conversation.State.RESOLVED),
    ("Bürgermeisterbüro", (), Conversation.State.NEW),
    ("Ordnungsamt", ("Straßen & Wege",), Conversation.State.OPEN),
    (None, (), Conversation.State.NEW),
)


def seed_inbox(user: Any) -> None:
    """Teams, labels, canned responses and one inbox conversation per demo citizen,
    consistent with their message history (fixture data: no auto-replies are sent)."""
    teams = {name: Team.objects.get_or_create(name=name)[0] for name in DEMO_TEAMS}
    teams["Bürgermeisterbüro"].members.add(user)
    labels = {
        name: Label.objects.get_or_create(name=name, defaults={"color": color})[0]
        for name, color in DEMO_LABELS
    }
    for title, body in DEMO_CANNED_RESPONSES:
        CannedResponse.objects.get_or_create(title=title, defaults={"body": body})
    schedule = Schedule.load()
    for demo, (team, label_names, state) in zip(DEMO_CITIZENS, DEMO_CONVERSATIONS, strict=True):
        citizen = Citizen.objects.get(wa_id=demo.wa_id)
        messages = Message.objects.filter(wa_id=demo.wa_id).order_by("created_at")
        first, last = messages.first(), messages.last()
        last_inbound = messages.filter(direction=Message.Direction.INBOUND).last()
        if first is None or last is None:
            continue
        unread = 0 if last.direction == Message.Direction.OUTBOUND else 1
        conversation, created = Conversation.objects.get_or_create(
            citizen=citizen,
            defaults={
                "state": state,
                "team": teams[team] if team else None,
                "assignee": user
                if state in (Conversation.State.OPEN, Conversation.State.WAITING)
                else None,
                "opened_at": first.created_at,
                "last_message_at": last.created_at,
                "last_message_preview": (last.text or f"[{last.type}]")[:200],
                "last_message_direction": last.direction,
                "last_inbound_at": last_inbound.created_at if last_inbound else None,
                "unread_count": 0 if state == Conversation.State.RESOLVED else unread,
            },
        )
        if created:
            conversation.labels.set([labels[name] for name in label_names])
            record_demo_events(conversation, messages, user, schedule)


def record_demo_events(
    conversation: Conversation, messages: Any, user: Any, schedule: Schedule
) -> None:
    """The events the inbox actions would have recorded for this history (opened, first
    response, resolved), so the metrics page has numbers to show from the first start."""
    opened_at = messages.first().created_at

    def staff_event(kind: str, at: datetime) -> ConversationEvent:
        """A first response or resolution by ``user``, timed in office hours since opening."""
        return ConversationEvent(
            conversation=conversation,
            kind=kind,
            actor=user,
            team=conversation.team,
            office_seconds=schedule.office_seconds(opened_at, at),
            created_at=at,
        )

    events = [
        ConversationEvent(
            conversation=conversation,
            kind=ConversationEvent.Kind.OPENED,
            team=conversation.team,
            created_at=opened_at,
        )
    ]
    first_reply = messages.filter(direction=Message.Direction.OUTBOUND).first()
    if first_reply is not None:
        conversation.first_response_at = first_reply.created_at
        events.append(staff_event(ConversationEvent.Kind.FIRST_RESPONSE, first_reply.created_at))
    if conversation.state == Conversation.State.RESOLVED:
        # Closed by the office a little after the last message.
        conversation.resolved_at = messages.last().created_at + DEMO_RESOLVED_AFTER
        events.append(staff_event(ConversationEvent.Kind.RESOLVED, conversation.resolved_at))
    ConversationEvent.objects.bulk_create(events)
    conversation.save(update_fields=["first_response_at", "resolved_at"])


def provider_id(citizen: DemoCitizen, key: str) -> str:
    return f"{PROVIDER_ID_PREFIX}{citizen.wa_id}-{key}"


def create_demo_message(citizen: DemoCitizen, demo: DemoMessage, now: datetime) -> bool:
    """Create one demo message with its status history; False if it exists already."""
    created_at = now - demo.age
    content = demo.content or {"body": demo.text}
    is_outbound = demo.direction == OUT
    final_status = demo.statuses[-1] if is_outbound and demo.statuses else "received"
    message, created = Message.objects.get_or_create(
        provider_id=provider_id(citizen, demo.key),
        defaults={
            "direction": demo.direction,
            "wa_id": citizen.wa_id,
            "profile_name": "" if is_outbound else citizen.profile_name,
            "type": demo.type,
            "text": demo.text or str(content.get("emoji", "")),
            "payload": {"type": demo.type, demo.type: content},
            "context_provider_id": provider_id(citizen, demo.reply_to) if demo.reply_to else "",
            "status": final_status,
            "error_code": demo.error[0] if demo.error else None,
            "error_title": demo.error[1] if demo.error else "",
            "attempts": 1 if is_outbound else 0,
            "created_at": created_at,
            "status_updated_at": created_at
            + timedelta(
                seconds=max((STATUS_DELAYS[status] for status in demo.statuses), default=0)
            ),
            # Inbound demo messages count as handled, so no worker ever reacts to them.
            "handled_at": None if is_outbound else created_at,
        },
    )
    if not created:
        return False
    for status in demo.statuses:
        errors = (
            [{"code": demo.error[0], "title": demo.error[1], "message": demo.error[1]}]
            if status == "failed" and demo.error
            else []
        )
        MessageStatusEvent.objects.get_or_create(
            provider_message_id=message.provider_id,
            status=status,
            defaults={
                "recipient_wa_id": citizen.wa_id,
                "occurred_at": created_at + timedelta(seconds=STATUS_DELAYS[status]),
                "errors": errors,
            },
        )
    if not is_outbound:
        do_record_inbound_contact(citizen.wa_id, citizen.profile_name, created_at)
    return True


class Command(BaseCommand):
    help = (
        "Create demo data for the fictional city of Musterstadt: one staff user per role "
        "(with a new password on every run), eight citizen "
        "conversations and a few weeks of info-channel posts. Running it again adds nothing "
        "twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            help="Password for the staff users (default: a new random password).",
        )
        parser.add_argument(
            "--base-url",
            default="http://localhost:8000",
            help="Where Townhall is reachable, for the printed login link.",
        )

    def handle(self, *args: Any, password: str | None, base_url: str, **options: Any) -> None:
        if password is None:
            password = generate_password()
        else:
            try:
                validate_password(password)
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from error

        now = clock.now()
        with transaction.atomic():
            users = {}
            any_created = False
            for role, username, first_name, last_name in DEMO_USERS:
                users[username], created = do_set_up_staff_user(
                    username,
                    password,
                    role=role,
                    first_name=first_name,
                    last_name=last_name,
                    email=f"{username}@{DEMO_EMAIL_DOMAIN}",
                )
                any_created = any_created or created
            new_messages = sum(
                create_demo_message(citizen, demo, now)
                for citizen in DEMO_CITIZENS
                for demo in citizen.messages
            )
            subscribe_demo_citizens(now)
            seed_inbox(users[DEMO_OFFICE_USERNAME])
            new_templates = seed_templates()
            # After the subscriptions: the posts reach whom the consent policy lets them.
            channel_demo = seed_channel_demo(approver=users[DEMO_USERNAME], now=now)
        total_messages = sum(len(citizen.messages) for citizen in DEMO_CITIZENS)
        demo_citizens = Citizen.objects.filter(
            wa_id__in=[citizen.wa_id for citizen in DEMO_CITIZENS]
        ).count()

        self.stdout.write(
            f"Demo data: {demo_citizens} citizens, {total_messages} messages "
            f"({new_messages} new, {total_messages - new_messages} already there), "
            f"{new_templates} new message templates."
        )
        self.stdout.write(
            f"Info channel: {channel_demo.posts} posts ({channel_demo.new_posts} new, "
            f"{channel_demo.posts - channel_demo.new_posts} already there), "
            f"{channel_demo.deliveries} new deliveries."
        )
        login_url = base_url.rstrip("/") + reverse("staff:login")
        action = "created" if any_created else "password reset"
        rule = "─" * 60
        self.stdout.write(
            "\n".join(
                [
                    "",
                    rule,
                    f"  Townhall demo: staff logins, one per role ({action})",
                    "",
                    f"  Login:     {login_url}",
                    f"  Password:  {password}   (the same for every demo user)",
                    "",
                    *(
                        f"  {role:<18} User: {username}"
                        for role, username, _first_name, _last_name in DEMO_USERS
                    ),
                    rule,
                    "",
                ]
            )
        )
