"""A few weeks of Musterstadt's info channel for the demo (``manage.py seed_demo``).

Posts with their German (some also English) versions, the approval trail by demo staff, and
one delivery per subscribed demo citizen linked to an outbound message with a realistic
status history (sent, delivered, read, some failed with Meta's error titles), so the public
archive, the composer's lists and the statistics have something to show on first start.

Fixture data, written in bulk like the rest of the demo (no message is really sent): the
recipients are the demo citizens whose consent and topics the real consent policy allows;
each recipient outside the 24-hour window got the post as the approved template. Safe to run
again: posts have fixed public ids and messages fixed provider ids, so nothing is added twice.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Max

from townhall.channel.models import Post, PostDelivery, PostEvent, PostVersion
from townhall.channel.public_queries import public_post_url
from townhall.citizens.models import Citizen, Offering, Subscription, Topic
from townhall.whatsapp import formatting, outbound
from townhall.whatsapp.models import Message, MessageStatusEvent, MessageTemplate
from townhall.whatsapp.policy import Purpose, refusals
from townhall.whatsapp.service_window import is_within_service_window
from townhall.whatsapp.templates import approved_template, parameter_text

PROVIDER_ID_PREFIX = "wamid.demo-post-"
# The approved templates (``seed_demo`` imports them from the simulator's pre-approved set)
# the demo posts went out as to citizens outside the 24-hour window: {{1}} title, {{2}}
# text, the URL button's {{1}} the post's public id.
DEMO_TEMPLATES = {Post.Kind.NORMAL: "info_kanal_beitrag", Post.Kind.URGENT: "info_kanal_dringend"}
# The text parameter is cut so the filled-in body stays well under Meta's 1,024 characters.
TEMPLATE_TEXT_MAX_CHARS = 600
# Demo staff who wrote and approved the posts (no password: they cannot log in).
DEMO_EDITORS = (
    ("presse.kraemer", "Jana", "Krämer"),
    ("ordnungsamt.lehmann", "Tobias", "Lehmann"),
)
# Errors Meta reports for undeliverable messages (code, title), as in its status webhooks.
DEMO_FAILURES = (
    (131026, "Message undeliverable"),
    (131000, "Something went wrong"),
    (131026, "Message undeliverable"),
    (130472, "User's number is part of an experiment"),
)


@dataclass(frozen=True)
class DemoPost:
    """One post of the demo, published ``age`` before the first seeding (drafts: written)."""

    key: str
    age: timedelta
    topics: tuple[str, ...]
    title: str
    text: str
    title_en: str = ""
    text_en: str = ""
    kind: str = Post.Kind.NORMAL
    state: str = Post.State.SENT
    # Staff: index into DEMO_EDITORS.
    editor: int = 0
    review_comment: str = ""


def days(number: float) -> timedelta:
    return timedelta(days=number)


DEMO_POSTS: tuple[DemoPost, ...] = (
    DemoPost(
        "marathon",
        days(27.2),
        ("verkehr", "veranstaltungen"),
        "Stadtlauf am Sonntag: Sperrungen in der Innenstadt",
        "Am Sonntag findet der 12. Musterstädter Stadtlauf statt. Von *8 bis 14 Uhr* sind "
        "folgende Straßen gesperrt:\n- Ringstraße zwischen Marktplatz und Bahnhof\n"
        "- Lindenallee\n- Kirchplatz\nDie Buslinien 2 und 4 fahren eine Umleitung über die "
        "Nordstraße. Wir bitten um Verständnis und freuen uns über viele Zuschauer an der "
        "Strecke!",
        "City run on Sunday: road closures in the city centre",
        "The 12th Musterstadt city run takes place on Sunday. From *8 am to 2 pm* these "
        "streets are closed:\n- Ringstraße between market square and station\n- Lindenallee\n"
        "- Kirchplatz\nBus lines 2 and 4 are diverted via Nordstraße.",
        editor=1,
    ),
    DemoPost(
        "bahnhofstrasse",
        days(25.1),
        ("verkehr",),
        "Straßensperrung Bahnhofstraße ab Montag",
        "Wegen der Erneuerung der Wasserleitungen ist die Bahnhofstraße zwischen Ringstraße "
        "und Goethestraße ab Montag für *vier Wochen* voll gesperrt. Die Umleitung ist "
        "ausgeschildert. Fußgänger und Radfahrer kommen durch, die Geschäfte bleiben "
        "erreichbar.\n\nFragen beantwortet das Tiefbauamt: tiefbau@musterstadt.de",
        "Bahnhofstraße closed from Monday",
        "Because the water mains are being renewed, Bahnhofstraße between Ringstraße and "
        "Goethestraße is closed for *four weeks* from Monday. Follow the signposted diversion; "
        "pedestrians and cyclists can pass, shops stay open.",
        editor=1,
    ),
    DemoPost(
        "laub",
        days(22.3),
        ("stadt",),
        "Laubsammlung: Straßenreinigung im November",
        "Die Stadtreinigung sammelt ab dieser Woche wieder Laub. Bitte stellen Sie Laubsäcke "
        "am Abfuhrtag bis *7 Uhr* an den Straßenrand. Kostenlose Laubsäcke gibt es im "
        "Bürgerbüro und auf dem Wertstoffhof.",
    ),
    DemoPost(
        "repair-cafe",
        days(20.4),
        ("veranstaltungen",),
        "Repair-Café im Bürgerhaus",
        "Toaster kaputt, Fahrradlicht defekt, Reißverschluss klemmt? Beim Repair-Café helfen "
        "Ehrenamtliche beim Reparieren: _am letzten Samstag des Monats, 10 bis 14 Uhr_, "
        "Bürgerhaus, Saal 2. Kaffee und Kuchen gibt es gegen Spende.",
    ),
    DemoPost(
        "trinkwasser",
        days(19.15),
        ("dringend", "stadt"),
        "Trinkwasser in der Nordstadt abkochen",
        "*Abkochgebot für die Nordstadt:* Bei einer Routinekontrolle wurden im Trinkwasser "
        "Keime nachgewiesen. Bitte kochen Sie Leitungswasser zum Trinken, Zähneputzen und "
        "für die Zubereitung von Speisen *sprudelnd auf* und lassen Sie es langsam abkühlen.\n"
        "Betroffen: alle Straßen nördlich der Bahnlinie.\n"
        "Wir melden uns, sobald das Wasser wieder einwandfrei ist.",
        "Boil drinking water in Nordstadt",
        "*Boil-water notice for Nordstadt:* a routine test found germs in the tap water. "
        "Please bring tap water to a *rolling boil* before drinking it, brushing teeth or "
        "cooking, and let it cool slowly.\nAffected: all streets north of the railway.",
        kind=Post.Kind.URGENT,
    ),
    DemoPost(
        "trinkwasser-entwarnung",
        days(17.0),
        ("dringend", "stadt"),
        "Entwarnung: Trinkwasser in der Nordstadt wieder einwandfrei",
        "Das Abkochgebot für die Nordstadt ist *aufgehoben*. Die Nachkontrollen waren ohne "
        "Befund; Sie können das Leitungswasser wieder ohne Einschränkung nutzen. Lassen Sie "
        "es vor dem ersten Gebrauch einige Minuten laufen.",
        "All clear: Nordstadt tap water is safe again",
        "The boil-water notice for Nordstadt is *lifted*. Let the water run for a few minutes "
        "before first use.",
    ),
    DemoPost(
        "buergerbuero",
        days(15.2),
        ("stadt",),
        "Neue Öffnungszeiten im Bürgerbüro",
        "Ab dem 1. des Monats gelten im Bürgerbüro neue Öffnungszeiten:\n"
        "- Mo–Mi 8–16 Uhr\n- Do 8–18 Uhr\n- Fr 8–12 Uhr\n- Sa 9–12 Uhr (nur Abholung)\n"
        "Termine buchen Sie online unter www.musterstadt.de/termine.",
    ),
    DemoPost(
        "sperrmuell",
        days(12.3),
        ("stadt",),
        "Sperrmüll-Termine für das nächste Quartal",
        "Die Sperrmüll-Termine für das nächste Quartal stehen fest. Sperrmüll wird zweimal im "
        "Jahr kostenlos abgeholt; melden Sie die Abholung bitte *spätestens zwei Wochen* "
        "vorher beim Abfallservice an (Rathaus, Zimmer 104, Mo–Fr 8–16 Uhr).\n"
        "Nicht zum Sperrmüll gehören Elektrogeräte, Bauschutt und Autoreifen.",
    ),
    DemoPost(
        "stadtfest",
        days(10.1),
        ("veranstaltungen",),
        "Stadtfest am Wochenende",
        "Von Freitag bis Sonntag feiert Musterstadt sein *Stadtfest*: Live-Musik auf dem "
        "Marktplatz, Kinderprogramm im Stadtpark, Flohmarkt in der Lindenallee und am "
        "Sonntag ab 13 Uhr verkaufsoffene Geschäfte.\nDer Marktplatz ist ab Donnerstag "
        "18 Uhr für Autos gesperrt.",
        "City festival this weekend",
        "From Friday to Sunday Musterstadt celebrates its *city festival*: live music on the "
        "market square, children's programme in the city park and a flea market in "
        "Lindenallee.",
    ),
    DemoPost(
        "ratssitzung",
        days(8.2),
        ("stadt",),
        "Ratssitzung am Donnerstag",
        "Der Rat der Stadt tagt am Donnerstag um *18 Uhr* im großen Sitzungssaal des "
        "Rathauses. Auf der Tagesordnung: Haushalt für das kommende Jahr, der offene "
        "Bücherschrank am Marktplatz und die Sanierung der Grundschule Nord. Die Sitzung ist "
        "öffentlich, Gäste sind willkommen.",
    ),
    DemoPost(
        "sturm",
        days(5.5),
        ("dringend",),
        "Unwetterwarnung: Sturmböen bis 100 km/h",
        "Der Deutsche Wetterdienst warnt für heute Abend vor *Sturmböen bis 100 km/h*. "
        "Bitte meiden Sie Parks und Wälder, sichern Sie lose Gegenstände auf Balkonen und "
        "parken Sie nicht unter Bäumen. Der Wochenmarkt morgen fällt aus.\n"
        "Notruf Feuerwehr: 112",
        "Storm warning: gusts up to 100 km/h",
        "The German weather service warns of *gusts up to 100 km/h* tonight. Avoid parks and "
        "woods, secure loose items on balconies and do not park under trees.",
        kind=Post.Kind.URGENT,
    ),
    DemoPost(
        "weihnachtsmarkt",
        days(7.6),
        ("veranstaltungen", "stadt"),
        "Weihnachtsmarkt: Standplätze jetzt bewerben",
        "Händlerinnen, Vereine und Kunsthandwerker können sich ab sofort für einen Stand auf "
        "dem Musterstädter Weihnachtsmarkt bewerben. Vereine zahlen _keine Standgebühr_. "
        "Bewerbungsschluss ist in vier Wochen; das Formular gibt es unter "
        "www.musterstadt.de/weihnachtsmarkt.",
    ),
    DemoPost(
        "baustelle-bahnhofstrasse",
        days(1.3),
        ("verkehr",),
        "Baustelle Bahnhofstraße: Bauzeiten",
        "Zur Baustelle in der Bahnhofstraße: Bauarbeiten sind werktags nur zwischen *7 und "
        "20 Uhr* erlaubt. Das Ordnungsamt kontrolliert die Einhaltung. Die Arbeiten liegen "
        "im Zeitplan und enden voraussichtlich in zwei Wochen.",
        editor=1,
    ),
    DemoPost(
        "hauptstrasse",
        timedelta(minutes=50),
        ("verkehr",),
        "Hauptstraße: Fahrbahn wird ausgebessert",
        "Am Donnerstag bessert der Baubetriebshof Schlaglöcher in der Hauptstraße aus. "
        "Zwischen Hausnummer 10 und 40 wird der Verkehr von 9 bis 15 Uhr *einspurig* mit "
        "Ampel geregelt.",
        editor=1,
    ),
    # Not (yet) published: the archive must never show these.
    DemoPost(
        "seniorennachmittag",
        days(0.3),
        ("veranstaltungen",),
        "Seniorennachmittag im Bürgerhaus",
        "Der Seniorenbeirat lädt zum Adventsnachmittag mit Kaffee, Kuchen und Musik ein.",
        state=Post.State.DRAFT,
    ),
    DemoPost(
        "buslinie",
        days(1.1),
        ("verkehr",),
        "Neue Buslinie 12 ab Januar",
        "Ab Januar verbindet die neue Buslinie 12 das Gewerbegebiet Süd im 20-Minuten-Takt "
        "mit dem Bahnhof.",
        state=Post.State.IN_REVIEW,
        editor=1,
    ),
    DemoPost(
        "gruenschnitt",
        days(2.2),
        ("stadt",),
        "Grünschnitt-Sammlung",
        "Grünschnitt wird am Samstag abgeholt.",
        state=Post.State.CHANGES_REQUESTED,
        review_comment="Bitte noch die Uhrzeit und die betroffenen Stadtteile ergänzen.",
    ),
)


def demo_public_id(key: str) -> str:
    """A fixed public id per demo post (the same on every install), shaped like real ones."""
    digest = hashlib.sha256(f"townhall-demo-post:{key}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:8]


def demo_provider_id(post: DemoPost, wa_id: str) -> str:
    return f"{PROVIDER_ID_PREFIX}{post.key}-{wa_id}"


def _bucket(*parts: str) -> int:
    """A number 0–99 fixed per input: the same demo on every run and install."""
    return int.from_bytes(hashlib.sha256(":".join(parts).encode()).digest()[:4], "big") % 100


@dataclass(frozen=True)
class DemoChannelResult:
    posts: int
    new_posts: int
    deliveries: int


EDITORS_ROLE = "Redaktion"


def demo_editors() -> list[Any]:
    user_model = get_user_model()
    editors = []
    for username, first_name, last_name in DEMO_EDITORS:
        user, created = user_model.objects.get_or_create(
            username=username,
            defaults={"first_name": first_name, "last_name": last_name, "is_staff": True},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            # The role of townhall.staff.roles that drafts posts (named, not imported: the
            # channel never imports the staff app).
            user.groups.add(*Group.objects.filter(name=EDITORS_ROLE))
        editors.append(user)
    return editors


def demo_templates() -> dict[tuple[str, str], MessageTemplate]:
    """The approved templates by (post kind, language)."""
    templates: dict[tuple[str, str], MessageTemplate] = {}
    for kind, name in DEMO_TEMPLATES.items():
        for language in ("de", "en"):
            template = approved_template(name, language)
            if template is None:
                raise LookupError(
                    f"The demo needs the approved template {name!r} ({language}); "
                    "seed_demo imports it before the posts."
                )
            templates[kind, language] = template
    return templates


def info_recipients(topic_slugs: Iterable[str]) -> list[Citizen]:
    """Citizens the consent policy lets receive a post of these topics (any of them; every
    info subscriber when there is none)."""
    candidates = list(
        Citizen.objects.filter(
            erased_at__isnull=True,
            subscriptions__offering=Offering.INFO,
            subscriptions__state=Subscription.State.ACTIVE,
        ).order_by("id")
    )
    wa_ids = [citizen.wa_id for citizen in candidates]
    allowed: set[str] = set()
    for topic in list(topic_slugs) or [""]:
        refused = refusals(wa_ids, Purpose.INFO, topic)
        allowed |= {wa_id for wa_id in wa_ids if wa_id not in refused}
    return [citizen for citizen in candidates if citizen.wa_id in allowed]


def seed_channel_demo(*, approver: Any, now: datetime) -> DemoChannelResult:
    """Create the demo posts that do not exist yet, with versions, events and deliveries.

    ``approver`` approved the posts (the demo's Bürgermeisteramt); ``now`` is the seeding
    time the ages count back from.
    """
    with transaction.atomic():
        existing = set(
            Post.objects.filter(
                public_id__in=[demo_public_id(demo.key) for demo in DEMO_POSTS]
            ).values_list("public_id", flat=True)
        )
        missing = [demo for demo in DEMO_POSTS if demo_public_id(demo.key) not in existing]
        deliveries = 0
        if missing:
            editors = demo_editors()
            templates = demo_templates()
            topics = {topic.slug: topic for topic in Topic.objects.all()}
            posts = _create_posts(missing, editors, approver, templates, topics, now)
            deliveries = _create_deliveries(missing, posts, templates, now)
    return DemoChannelResult(posts=len(DEMO_POSTS), new_posts=len(missing), deliveries=deliveries)


def _is_published(demo: DemoPost) -> bool:
    return demo.state == Post.State.SENT


def _create_posts(
    demos: list[DemoPost],
    editors: list[Any],
    approver: Any,
    templates: dict[tuple[str, str], MessageTemplate],
    topics: dict[str, Topic],
    now: datetime,
) -> dict[str, Post]:
    posts = {}
    last_citizen_id = Citizen.objects.aggregate(last=Max("id"))["last"] or 0
    for demo in demos:
        at = now - demo.age
        is_published = _is_published(demo)
        is_urgent = demo.kind == Post.Kind.URGENT
        # Normal posts were written a few hours before they went out; alerts minutes before.
        written_at = at - (timedelta(minutes=12) if is_urgent else timedelta(hours=5))
        posts[demo.key] = Post(
            public_id=demo_public_id(demo.key),
            kind=demo.kind,
            state=demo.state,
            template=templates[demo.kind, "de"] if is_published else None,
            valid_for_seconds=3 * 3600 if is_urgent else None,
            author=editors[demo.editor],
            created_at=written_at,
            updated_at=at if is_published else written_at,
            approved_by=approver if is_published else None,
            approved_at=at - timedelta(hours=1) if is_published and not is_urgent else None,
            review_comment=demo.review_comment,
            sending_started_at=at if is_published else None,
            finished_at=at + timedelta(minutes=1) if is_published else None,
            published_at=at if is_published else None,
            # Every citizen was decided within seconds (the fan-out walks them in id order).
            fan_out_cursor=last_citizen_id if is_published else 0,
            fan_out_finished_at=at + timedelta(seconds=30) if is_published else None,
        )
        if is_published and is_urgent:
            posts[demo.key].approved_at = at
    Post.objects.bulk_create(posts.values())

    versions: list[PostVersion] = []
    post_topics: list[Any] = []
    events: list[PostEvent] = []
    for demo in demos:
        post = posts[demo.key]
        versions.append(PostVersion(post=post, language="de", title=demo.title, text=demo.text))
        if demo.title_en:
            versions.append(
                PostVersion(post=post, language="en", title=demo.title_en, text=demo.text_en)
            )
        post_topics.extend(
            Post.topics.through(post=post, topic=topics[slug])
            for slug in demo.topics
            if slug in topics
        )
        events.extend(_events(demo, post, editors[demo.editor], approver))
    PostVersion.objects.bulk_create(versions)
    Post.topics.through.objects.bulk_create(post_topics)
    PostEvent.objects.bulk_create(events)
    return posts


def _events(demo: DemoPost, post: Post, editor: Any, approver: Any) -> list[PostEvent]:
    """The approval trail the channel's actions would have recorded."""
    action = PostEvent.Action
    written_at = post.created_at
    trail = [(action.DRAFTED, editor, written_at, "")]
    if demo.state == Post.State.DRAFT:
        return [PostEvent(post=post, action=a, actor=u, created_at=t) for a, u, t, _c in trail]
    if demo.kind == Post.Kind.URGENT and post.published_at is not None:
        at = post.published_at
        trail += [
            (action.URGENT_SENT, approver, at, ""),
            (action.SENDING_STARTED, None, at, ""),
            (action.FINISHED, None, at + timedelta(minutes=1), ""),
            (
                action.REVIEWED_AFTER,
                approver,
                at + timedelta(hours=2),
                "Geprüft, Warnung war berechtigt.",
            ),
        ]
    else:
        submitted_at = written_at + timedelta(minutes=40)
        trail.append((action.SUBMITTED, editor, submitted_at, ""))
        if demo.state == Post.State.CHANGES_REQUESTED:
            trail.append(
                (
                    action.CHANGES_REQUESTED,
                    approver,
                    submitted_at + timedelta(hours=1),
                    demo.review_comment,
                )
            )
        elif post.published_at is not None:
            at = post.published_at
            trail += [
                (action.APPROVED, approver, at - timedelta(hours=1), ""),
                (action.SENDING_STARTED, None, at, ""),
                (action.FINISHED, None, at + timedelta(minutes=1), ""),
            ]
    return [
        PostEvent(post=post, action=kind, actor=actor, created_at=at, comment=comment)
        for kind, actor, at, comment in trail
    ]


def _create_deliveries(
    demos: list[DemoPost],
    posts: dict[str, Post],
    templates: dict[tuple[str, str], MessageTemplate],
    now: datetime,
) -> int:
    """One delivery and one outbound message (with its status webhooks) per recipient."""
    published = [demo for demo in demos if _is_published(demo)]
    if not published:
        return 0
    recipients = {demo.key: info_recipients(demo.topics) for demo in published}
    wa_ids = {citizen.wa_id for citizens in recipients.values() for citizen in citizens}
    provider_ids = [
        demo_provider_id(demo, citizen.wa_id)
        for demo in published
        for citizen in recipients[demo.key]
    ]
    messages = {
        message.provider_id: message
        for message in Message.objects.filter(provider_id__in=provider_ids)
    }
    inbound_times = _inbound_times(wa_ids)

    new_messages: list[Message] = []
    status_events: list[MessageStatusEvent] = []
    planned: list[tuple[Post, Citizen, str, bool, str, datetime]] = []
    for demo in published:
        post = posts[demo.key]
        published_at = now - demo.age
        for position, citizen in enumerate(recipients[demo.key]):
            provider_id = demo_provider_id(demo, citizen.wa_id)
            queued_at = published_at + timedelta(seconds=2 * position)
            last_inbound = max(
                (t for t in inbound_times.get(citizen.wa_id, []) if t <= queued_at), default=None
            )
            as_template = not is_within_service_window(last_inbound, queued_at)
            language = "en" if citizen.language.startswith("en") and demo.title_en else "de"
            planned.append((post, citizen, provider_id, as_template, language, queued_at))
            if provider_id in messages:
                continue
            message, events = _demo_message(
                demo, post, citizen, provider_id, queued_at, as_template, language, templates, now
            )
            new_messages.append(message)
            status_events.extend(events)
    Message.objects.bulk_create(new_messages)
    MessageStatusEvent.objects.bulk_create(status_events, ignore_conflicts=True)
    messages.update({message.provider_id: message for message in new_messages})
    PostDelivery.objects.bulk_create(
        [
            PostDelivery(
                post=post,
                citizen=citizen,
                message=messages[provider_id],
                language=language,
                as_template=as_template,
                created_at=queued_at,
            )
            for post, citizen, provider_id, as_template, language, queued_at in planned
        ]
    )
    return len(planned)


def _inbound_times(wa_ids: set[str]) -> dict[str, list[datetime]]:
    """When each citizen wrote to the city: the 24-hour window is counted from these."""
    times: dict[str, list[datetime]] = {}
    rows = Message.objects.filter(
        wa_id__in=wa_ids, direction=Message.Direction.INBOUND
    ).values_list("wa_id", "created_at")
    for wa_id, created_at in rows:
        times.setdefault(wa_id, []).append(created_at)
    return times


def _demo_message(
    demo: DemoPost,
    post: Post,
    citizen: Citizen,
    provider_id: str,
    queued_at: datetime,
    as_template: bool,
    language: str,
    templates: dict[tuple[str, str], MessageTemplate],
    now: datetime,
) -> tuple[Message, list[MessageStatusEvent]]:
    """The outbound message as the sending engine stores it, and its status webhooks."""
    link = public_post_url(post.public_id, language)
    title, body = (demo.title_en, demo.text_en) if language == "en" else (demo.title, demo.text)
    content: outbound.Text | outbound.Template
    if as_template:
        text = parameter_text(formatting.to_plain(body))
        if len(text) > TEMPLATE_TEXT_MAX_CHARS:
            text = text[: TEMPLATE_TEXT_MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"
        content = templates[demo.kind, language].to_outbound(
            body_parameters=(title, text), url_suffix=post.public_id
        )
    else:
        content = outbound.Text(f"*{title}*\n\n{body}\n\nMehr: {link}", preview_url=True)
    statuses, error = _demo_statuses(demo, citizen, queued_at, now)
    category = "utility" if as_template else "service"
    pricing = {
        "billable": as_template,
        "pricing_model": "PMP",
        "category": category,
        "type": "regular" if as_template else "free_customer_service",
    }
    final_status, final_at = statuses[-1]
    message = Message(
        provider_id=provider_id,
        direction=Message.Direction.OUTBOUND,
        wa_id=citizen.wa_id,
        type=content.type,
        text=content.summary(),
        payload=content.to_payload(),
        status=final_status,
        purpose=Purpose.INFO,
        topic=demo.topics[0] if len(demo.topics) == 1 else "",
        error_code=error[0] if error else None,
        error_title=error[1] if error else "",
        attempts=1,
        priority=(
            Message.Priority.URGENT if demo.kind == Post.Kind.URGENT else Message.Priority.BULK
        ),
        created_at=queued_at,
        status_updated_at=final_at,
    )
    events = [
        MessageStatusEvent(
            provider_message_id=provider_id,
            status=status,
            recipient_wa_id=citizen.wa_id,
            occurred_at=at,
            received_at=at,
            errors=[{"code": error[0], "title": error[1], "message": error[1]}]
            if status == Message.Status.FAILED and error
            else [],
            pricing=pricing if status in (Message.Status.SENT, Message.Status.DELIVERED) else {},
        )
        for status, at in statuses
    ]
    return message, events


def _demo_statuses(
    demo: DemoPost, citizen: Citizen, queued_at: datetime, now: datetime
) -> tuple[list[tuple[str, datetime]], tuple[int, str] | None]:
    """The status webhooks a message got (in order, with times) and its error if it failed.

    About 7 in 10 read, 2 in 10 only delivered (fewer read a fresh post), a few still at
    "sent" (phone off) and about 1 in 15 failed.
    """
    status = Message.Status
    bucket = _bucket(demo.key, citizen.wa_id)
    sent_at = queued_at + timedelta(seconds=2)
    delivered_at = queued_at + timedelta(seconds=5 + bucket % 20)
    if bucket >= 93:
        failure = DEMO_FAILURES[bucket % len(DEMO_FAILURES)]
        return [(status.FAILED, queued_at + timedelta(seconds=3))], failure
    if bucket >= 88:
        return [(status.SENT, sent_at)], None
    # Read within minutes (alerts) or hours; not read yet if that lies in the future.
    read_after = timedelta(minutes=2 + bucket * (1 if demo.kind == Post.Kind.URGENT else 9))
    read_at = delivered_at + read_after
    if bucket >= 70 or read_at > now:
        return [(status.SENT, sent_at), (status.DELIVERED, delivered_at)], None
    return [(status.SENT, sent_at), (status.DELIVERED, delivered_at), (status.READ, read_at)], None
