"""Every change to citizens goes through these functions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils.module_loading import import_string

from townhall.audit.actions import Action as AuditAction
from townhall.audit.actions import do_audit
from townhall.citizens import queries
from townhall.citizens.models import (
    BotSession,
    Citizen,
    ConsentChannel,
    ConsentRecord,
    ConsentText,
    NotificationMode,
    Offering,
    Subscription,
    Topic,
    TopicSubscription,
)
from townhall.core import clock
from townhall.core.phone_numbers import is_valid_wa_id
from townhall.core.storage import scrub_deleted_data

PROFILE_NAME_MAX_CHARS = Citizen._meta.get_field("profile_name").max_length or 255


def do_record_inbound_contact(wa_id: str, profile_name: str, at: datetime) -> Citizen:
    """Record that ``wa_id`` wrote to us at ``at``: create the citizen on first contact.

    Safe when several workers handle messages of the same citizen at once and when messages
    arrive out of order: ``last_inbound_at`` only moves forward, and the profile name is taken
    from a message only if no newer message has been recorded (WhatsApp sends the name with
    every message, so an older message may carry a name the citizen has since changed).
    """
    if at.tzinfo is None:
        raise ValueError("at must be a timezone-aware datetime")
    if not is_valid_wa_id(wa_id):
        raise ValueError("not a WhatsApp id (E.164 digits)")
    profile_name = profile_name.strip()[:PROFILE_NAME_MAX_CHARS]
    with transaction.atomic():
        # get_or_create retries the lookup when a concurrent worker created the row first
        # (IntegrityError on the unique wa_id); the row lock then orders the two updates.
        citizen, created = Citizen.objects.select_for_update().get_or_create(
            wa_id=wa_id,
            defaults={
                "profile_name": profile_name,
                # The first contact, not the time a worker got to it.
                "created_at": min(at, clock.now()),
                "last_inbound_at": at,
            },
        )
        if created:
            return citizen

        is_newest = citizen.last_inbound_at is None or at >= citizen.last_inbound_at
        changed_fields = []
        if is_newest and profile_name and profile_name != citizen.profile_name:
            citizen.profile_name = profile_name
            changed_fields.append("profile_name")
        if citizen.last_inbound_at is None or at > citizen.last_inbound_at:
            citizen.last_inbound_at = at
            changed_fields.append("last_inbound_at")
        if changed_fields:
            citizen.save(update_fields=changed_fields)
    return citizen


# --- subscriptions and consent ------------------------------------------------------------------


def _record(
    citizen: Citizen,
    kind: str,
    *,
    channel: str,
    offering: str = "",
    topic: Topic | None = None,
    consent_text: ConsentText | None = None,
    age_confirmed: bool | None = None,
    acting_user: Any = None,
    referral_code: str = "",
) -> ConsentRecord:
    return ConsentRecord.objects.create(
        citizen=citizen,
        kind=kind,
        offering=offering,
        topic=topic,
        consent_text=consent_text,
        channel=channel,
        age_confirmed=age_confirmed,
        referral_code=referral_code,
        acting_user=acting_user if getattr(acting_user, "pk", None) else None,
    )


def current_consent_text() -> ConsentText:
    text = ConsentText.objects.order_by("-published_at", "-id").first()
    if text is None:
        raise ImproperlyConfigured("No consent text published")
    return text


def do_request_subscription(
    citizen: Citizen, offerings: Iterable[str], *, channel: str, acting_user: Any = None
) -> list[str]:
    """First step of the double opt-in: mark ``offerings`` as waiting for confirmation.

    Returns the offerings that now wait (already active ones are left alone).
    """
    waiting = []
    now = clock.now()
    with transaction.atomic():
        for offering in offerings:
            subscription, _ = Subscription.objects.select_for_update().get_or_create(
                citizen=citizen,
                offering=offering,
                defaults={"state": Subscription.State.PENDING, "requested_at": now},
            )
            if subscription.state == Subscription.State.ACTIVE:
                continue
            if subscription.state != Subscription.State.PENDING:
                subscription.state = Subscription.State.PENDING
                subscription.requested_at = now
                subscription.save(update_fields=["state", "requested_at"])
            _record(
                citizen,
                ConsentRecord.Kind.REQUESTED,
                channel=channel,
                offering=offering,
                acting_user=acting_user,
            )
            waiting.append(offering)
    return waiting


def do_confirm_subscriptions(
    citizen: Citizen,
    *,
    channel: str,
    age_confirmed: bool | None = None,
    acting_user: Any = None,
    referral_code: str = "",
) -> list[str]:
    """Second step of the double opt-in: the citizen agreed to the current consent text.

    Activates every waiting offering and records the consent with the text's version and
    ``age_confirmed`` (True: the citizen confirmed being 16 or older, DSGVO Art. 8; None: not
    asked, e.g. staff recording a written consent).
    ``referral_code``: the shared post's code the sign-up started from ("START <code>"); kept
    on the consent record only, so sign-ups can be counted per post (never who shared it).
    """
    consent_text = current_consent_text()
    now = clock.now()
    confirmed = []
    with transaction.atomic():
        for subscription in Subscription.objects.select_for_update().filter(
            citizen=citizen, state=Subscription.State.PENDING
        ):
            subscription.state = Subscription.State.ACTIVE
            subscription.consent_text = consent_text
            subscription.confirmed_at = now
            subscription.ended_at = None
            subscription.save(update_fields=["state", "consent_text", "confirmed_at", "ended_at"])
            _record(
                citizen,
                ConsentRecord.Kind.GRANTED,
                channel=channel,
                offering=subscription.offering,
                consent_text=consent_text,
                age_confirmed=age_confirmed,
                acting_user=acting_user,
                referral_code=referral_code,
            )
            confirmed.append(subscription.offering)
    return confirmed


def do_decline_under_age(citizen: Citizen, *, channel: str, acting_user: Any = None) -> list[str]:
    """The citizen said they are under 16 (DSGVO Art. 8): their own consent does not count.

    Ends every waiting offering without activating it and records, per offering, that the
    consent was refused for age (with the text's version). Returns those offerings.
    """
    consent_text = current_consent_text()
    now = clock.now()
    declined = []
    with transaction.atomic():
        for subscription in Subscription.objects.select_for_update().filter(
            citizen=citizen, state=Subscription.State.PENDING
        ):
            subscription.state = Subscription.State.ENDED
            subscription.ended_at = now
            subscription.save(update_fields=["state", "ended_at"])
            _record(
                citizen,
                ConsentRecord.Kind.UNDER_AGE,
                channel=channel,
                offering=subscription.offering,
                consent_text=consent_text,
                age_confirmed=False,
                acting_user=acting_user,
            )
            declined.append(subscription.offering)
    return declined


def do_subscribe_directly(
    citizen: Citizen,
    offerings: Iterable[str],
    *,
    channel: str,
    age_confirmed: bool | None = None,
    acting_user: Any = None,
) -> list[str]:
    """Request and confirm in one step, for paths where the citizen has just agreed to the
    consent text on screen (the web form) or staff record a consent given in writing."""
    with transaction.atomic():
        do_request_subscription(citizen, offerings, channel=channel, acting_user=acting_user)
        return do_confirm_subscriptions(
            citizen, channel=channel, age_confirmed=age_confirmed, acting_user=acting_user
        )


def do_withdraw_subscriptions(
    citizen: Citizen,
    offerings: Iterable[str] | None = None,
    *,
    channel: str,
    acting_user: Any = None,
) -> list[str]:
    """End the given offerings (all when None). Takes effect for messages already queued too:
    the sending layer asks the policy again right before each send."""
    now = clock.now()
    ended = []
    with transaction.atomic():
        subscriptions = Subscription.objects.select_for_update().filter(
            citizen=citizen,
            state__in=[Subscription.State.ACTIVE, Subscription.State.PENDING],
        )
        if offerings is not None:
            subscriptions = subscriptions.filter(offering__in=list(offerings))
        for subscription in subscriptions:
            was_active = subscription.state == Subscription.State.ACTIVE
            subscription.state = Subscription.State.ENDED
            subscription.ended_at = now
            subscription.save(update_fields=["state", "ended_at"])
            if was_active:
                _record(
                    citizen,
                    ConsentRecord.Kind.WITHDRAWN,
                    channel=channel,
                    offering=subscription.offering,
                    acting_user=acting_user,
                )
                ended.append(subscription.offering)
    return ended


def do_set_topics(
    citizen: Citizen, topic_slugs: Iterable[str], *, channel: str, acting_user: Any = None
) -> tuple[list[str], list[str]]:
    """Make exactly ``topic_slugs`` the citizen's topics. Returns (added, removed) slugs."""
    wanted = set(topic_slugs)
    topics = {topic.slug: topic for topic in Topic.objects.filter(is_active=True)}
    unknown = wanted - topics.keys()
    if unknown:
        raise ValueError(f"Unknown topics: {', '.join(sorted(unknown))}")
    now = clock.now()
    added, removed = [], []
    with transaction.atomic():
        current = {
            row.topic.slug: row
            for row in TopicSubscription.objects.select_for_update()
            .filter(citizen=citizen)
            .select_related("topic")
        }
        for slug, topic in topics.items():
            row = current.get(slug)
            is_active = row is not None and row.is_active
            if slug in wanted and not is_active:
                if row is None:
                    TopicSubscription.objects.create(citizen=citizen, topic=topic, updated_at=now)
                else:
                    row.is_active = True
                    row.updated_at = now
                    row.save(update_fields=["is_active", "updated_at"])
                _record(
                    citizen,
                    ConsentRecord.Kind.TOPIC_ADDED,
                    channel=channel,
                    offering=Offering.INFO,
                    topic=topic,
                    acting_user=acting_user,
                )
                added.append(slug)
            elif slug not in wanted and is_active and row is not None:
                row.is_active = False
                row.updated_at = now
                row.save(update_fields=["is_active", "updated_at"])
                _record(
                    citizen,
                    ConsentRecord.Kind.TOPIC_REMOVED,
                    channel=channel,
                    offering=Offering.INFO,
                    topic=topic,
                    acting_user=acting_user,
                )
                removed.append(slug)
    return added, removed


def do_set_notification_mode(
    citizen: Citizen, mode: str, *, channel: str, acting_user: Any = None
) -> bool:
    """Make ``mode`` (``NotificationMode``) how the citizen is told about normal posts;
    urgent alerts always come at once. Records the choice with its time; True if it changed.

    Takes the citizen's row lock, like erasure: nothing changes once erasure was requested.
    """
    if mode not in NotificationMode.values:
        raise ValueError(f"Unknown notification mode: {mode}")
    with transaction.atomic():
        locked = Citizen.objects.select_for_update().get(pk=citizen.pk)
        if locked.erasure_requested_at is not None or locked.erased_at is not None:
            return False
        if locked.notification_mode == mode and locked.notification_mode_changed_at is not None:
            return False
        now = clock.now()
        locked.notification_mode = mode
        locked.notification_mode_changed_at = now
        locked.save(update_fields=["notification_mode", "notification_mode_changed_at"])
        ConsentRecord.objects.create(
            citizen=locked,
            kind=ConsentRecord.Kind.NOTIFICATIONS_CHANGED,
            offering=Offering.INFO,
            notification_mode=mode,
            channel=channel,
            acting_user=acting_user if getattr(acting_user, "pk", None) else None,
            created_at=now,
        )
    citizen.notification_mode = mode
    citizen.notification_mode_changed_at = now
    return True


class ConsentMissing(Exception):
    """Adding an offering needs the citizen's consent to the current text (DSGVO Art. 7)."""


@dataclass(frozen=True)
class PreferencesUpdate:
    """What ``do_update_preferences`` changed, each list in display order."""

    added_offerings: list[str]
    removed_offerings: list[str]
    added_topics: list[str]
    removed_topics: list[str]
    notification_mode_changed: bool = False

    @property
    def has_changes(self) -> bool:
        return bool(
            self.added_offerings
            or self.removed_offerings
            or self.added_topics
            or self.removed_topics
            or self.notification_mode_changed
        )


def do_update_preferences(
    citizen: Citizen,
    *,
    offerings: Iterable[str],
    topic_slugs: Iterable[str],
    has_consented: bool,
    channel: str,
    notification_mode: str | None = None,
    is_16_or_older: bool = False,
    acting_user: Any = None,
) -> PreferencesUpdate:
    """Make ``offerings`` the citizen's active offerings and, while the info channel is
    wanted, ``topic_slugs`` their topics and ``notification_mode`` (if given) how they are
    told about normal posts; all in one transaction.

    Offerings not active yet need ``has_consented`` (the consent box on the preferences
    page) and ``is_16_or_older`` (DSGVO Art. 8): they are requested and confirmed at once.
    Without both ConsentMissing is raised and nothing changes. Topics stay untouched when the info channel is not wanted, so a
    citizen who leaves it finds their topics again on return (as with STOP in WhatsApp).
    Nothing changes once erasure has been requested.
    """
    wanted = set(offerings)
    unknown = wanted - set(Offering.values)
    if unknown:
        raise ValueError(f"Unknown offerings: {', '.join(sorted(unknown))}")
    nothing = PreferencesUpdate([], [], [], [])
    with transaction.atomic():
        # The same lock do_request_erasure takes: a form sent from an open tab after the
        # erasure request changes nothing.
        locked = Citizen.objects.select_for_update().get(pk=citizen.pk)
        if locked.erasure_requested_at is not None or locked.erased_at is not None:
            return nothing
        active = queries.active_offerings(citizen)
        added = [offering for offering in Offering.values if offering in wanted - active]
        removed = [offering for offering in Offering.values if offering in active - wanted]
        if added and not (has_consented and is_16_or_older):
            raise ConsentMissing
        if added:
            do_subscribe_directly(
                citizen, added, channel=channel, age_confirmed=True, acting_user=acting_user
            )
        if removed:
            do_withdraw_subscriptions(citizen, removed, channel=channel, acting_user=acting_user)
        added_topics: list[str] = []
        removed_topics: list[str] = []
        mode_changed = False
        if Offering.INFO in wanted:
            added_topics, removed_topics = do_set_topics(
                citizen, topic_slugs, channel=channel, acting_user=acting_user
            )
            if notification_mode is not None and notification_mode != locked.notification_mode:
                mode_changed = do_set_notification_mode(
                    citizen, notification_mode, channel=channel, acting_user=acting_user
                )
    return PreferencesUpdate(added, removed, added_topics, removed_topics, mode_changed)


def do_record_data_export(citizen: Citizen, *, channel: str, acting_user: Any = None) -> None:
    _record(citizen, ConsentRecord.Kind.DATA_EXPORTED, channel=channel, acting_user=acting_user)
    do_audit(
        AuditAction.DATA_EXPORTED,
        acting_user=acting_user,
        target=citizen,
        details={"channel": channel},
        actor_name="" if acting_user is not None else "citizen",
    )


def do_redeem_export_link(citizen: Citizen, *, export_downloads: int) -> bool:
    """Use up the export link that carries ``export_downloads``: True once, False for a
    link already used (also by a concurrent request) or revoked since."""
    with transaction.atomic():
        used = Citizen.objects.filter(
            pk=citizen.pk,
            export_downloads=export_downloads,
            link_generation=citizen.link_generation,
            erased_at__isnull=True,
        ).update(export_downloads=F("export_downloads") + 1)
        if used:
            _record(
                citizen, ConsentRecord.Kind.DATA_EXPORTED, channel=ConsentRecord.Channel.WEB_FORM
            )
    return bool(used)


def do_revoke_links(citizen: Citizen, *, channel: str, acting_user: Any = None) -> None:
    """Make every preferences and export link given out so far useless (on request, and as
    part of erasure); the citizen gets new ones with EINSTELLUNGEN or MEINE DATEN."""
    with transaction.atomic():
        Citizen.objects.filter(pk=citizen.pk).update(link_generation=F("link_generation") + 1)
        _record(citizen, ConsentRecord.Kind.LINKS_REVOKED, channel=channel, acting_user=acting_user)
    citizen.refresh_from_db(fields=["link_generation", "export_downloads"])


def do_request_erasure(citizen: Citizen, *, channel: str, acting_user: Any = None) -> None:
    """The citizen confirmed erasure: stop everything now, erase after the goodbye is sent.

    The delay (settings.ERASURE_DELAY_SECONDS) lets the worker send the last message while
    the number is still known; a periodic task erases anyone whose task was lost.
    """
    from townhall.citizens import tasks

    with transaction.atomic():
        citizen = Citizen.objects.select_for_update().get(pk=citizen.pk)
        if citizen.erasure_requested_at is not None or citizen.erased_at is not None:
            return
        do_withdraw_subscriptions(citizen, channel=channel, acting_user=acting_user)
        citizen.erasure_requested_at = clock.now()
        citizen.erasure_requested_channel = channel
        citizen.save(update_fields=["erasure_requested_at", "erasure_requested_channel"])
        citizen_id = citizen.pk
        transaction.on_commit(
            lambda: tasks.erase_citizen.schedule(
                (citizen_id, channel), delay=settings.ERASURE_DELAY_SECONDS
            )
        )


# --- number changes ------------------------------------------------------------------------------


NUMBER_CHANGE_KINDS = frozenset({"user_changed_number", "customer_changed_number"})


def do_change_number(old_wa_id: str, new_wa_id: str) -> Citizen | None:
    """WhatsApp reported that the person behind ``old_wa_id`` now uses ``new_wa_id``
    (system message ``user_changed_number``): subscriptions, topics, consent history, the
    conversation and the message log move to the new number, a consent record says so, and
    no row keeps the old number in clear.

    If a citizen row already has the new number (someone wrote from it before the notice
    came, e.g. a re-delivered or overtaken webhook), it is the same person according to
    WhatsApp: its consent history, subscriptions (an active one wins), topics, post
    deliveries and conversation are merged into the moving citizen, and the row goes.
    Returns the moved citizen, or None when there was nothing to move (unknown or erased).
    """
    from townhall.whatsapp.actions import do_move_messages

    if not is_valid_wa_id(new_wa_id) or new_wa_id == old_wa_id:
        raise ValueError("not a new WhatsApp id")
    with transaction.atomic():
        # Both rows locked in id order, like any other two-row change, to avoid deadlocks.
        locked = {
            row.wa_id: row
            for row in Citizen.objects.select_for_update()
            .filter(wa_id__in=[old_wa_id, new_wa_id])
            .order_by("pk")
        }
        citizen = locked.get(old_wa_id)
        if citizen is None or citizen.erasure_requested_at is not None:
            # Unknown, or about to be erased under the old number: only the notice's copy of
            # the numbers goes (it is stored under the old number).
            if citizen is None:
                do_move_messages(old_wa_id, new_wa_id)
            return None
        stranger = locked.get(new_wa_id)
        if stranger is not None:
            _merge_citizen(citizen, stranger)
        for handler in settings.CITIZEN_NUMBER_CHANGE_HANDLERS:
            import_string(handler)(citizen, stranger)
        if stranger is not None:
            BotSession.objects.filter(citizen=stranger).delete()
            stranger.delete()
        citizen.wa_id = new_wa_id
        citizen.save(update_fields=["wa_id"])
        do_move_messages(old_wa_id, new_wa_id)
        _record(citizen, ConsentRecord.Kind.NUMBER_CHANGED, channel=ConsentChannel.WHATSAPP_SYSTEM)
    return citizen


def _merge_citizen(citizen: Citizen, stranger: Citizen) -> None:
    """Move the stranger's consent history, subscriptions and topics to ``citizen``; where
    both have one, the active one stays. Caller holds both row locks."""
    ConsentRecord.objects.filter(citizen=stranger).update(citizen=citizen)
    mine = {row.offering: row for row in Subscription.objects.filter(citizen=citizen)}
    for theirs in Subscription.objects.filter(citizen=stranger):
        current = mine.get(theirs.offering)
        if current is not None and (
            current.state == Subscription.State.ACTIVE or theirs.state != Subscription.State.ACTIVE
        ):
            theirs.delete()
            continue
        if current is not None:
            current.delete()
        theirs.citizen = citizen
        theirs.save(update_fields=["citizen"])
    my_topics = {row.topic_id: row for row in TopicSubscription.objects.filter(citizen=citizen)}
    for theirs_topic in TopicSubscription.objects.filter(citizen=stranger):
        current_topic = my_topics.get(theirs_topic.topic_id)
        if current_topic is not None and (current_topic.is_active or not theirs_topic.is_active):
            theirs_topic.delete()
            continue
        if current_topic is not None:
            current_topic.delete()
        theirs_topic.citizen = citizen
        theirs_topic.save(update_fields=["citizen"])
    if stranger.last_inbound_at and (
        citizen.last_inbound_at is None or stranger.last_inbound_at > citizen.last_inbound_at
    ):
        citizen.last_inbound_at = stranger.last_inbound_at
        citizen.save(update_fields=["last_inbound_at"])


# The longest erasure waits for the last messages to leave; then it runs regardless.
ERASURE_MAX_WAIT = timedelta(minutes=10)


def is_erasure_waiting_for_messages(citizen: Citizen) -> bool:
    """True while messages to the citizen are still queued, shortly after the request."""
    from townhall.whatsapp.models import Message

    if citizen.erasure_requested_at is None or citizen.erased_at is not None:
        return False
    if clock.now() - citizen.erasure_requested_at > ERASURE_MAX_WAIT:
        return False
    return Message.objects.filter(
        wa_id=citizen.wa_id,
        direction=Message.Direction.OUTBOUND,
        status__in=[Message.Status.QUEUED, Message.Status.SENDING],
    ).exists()


def do_erase_due_citizens(now: datetime | None = None) -> int:
    """Erase citizens whose erasure was requested long enough ago (recovery path)."""
    now = now or clock.now()
    cutoff = now - timedelta(seconds=settings.ERASURE_DELAY_SECONDS) - ERASURE_MAX_WAIT
    due = Citizen.objects.filter(erasure_requested_at__lt=cutoff, erased_at__isnull=True)
    count = 0
    for citizen in due[:100]:
        # Requests from before the channel was stored (migration 0005) have none; they
        # were recorded as keyword then.
        channel = citizen.erasure_requested_channel or ConsentRecord.Channel.WHATSAPP_KEYWORD
        do_erase_citizen(citizen, channel=channel)
        count += 1
    return count


# Citizens erased per nightly run of do_erase_former_citizens; any more wait for the next.
FORMER_CITIZENS_PER_RUN = 2000


def do_erase_former_citizens(now: datetime | None = None) -> int:
    """Erase the citizens without an active subscription who have had no contact for
    ``settings.RETENTION["FORMER_CITIZEN_DAYS"]``: no message either way, no consent record
    (storage limitation, DSGVO Art. 5(1)(e)). As on request: the number becomes a pseudonym,
    texts go, the consent records stay, anonymous. Nothing is sent to them. Returns the count.
    """
    from townhall.whatsapp.models import Message

    now = now or clock.now()
    cutoff = now - timedelta(days=settings.RETENTION["FORMER_CITIZEN_DAYS"])
    due = (
        Citizen.objects.filter(
            erased_at__isnull=True, erasure_requested_at__isnull=True, created_at__lt=cutoff
        )
        .exclude(last_inbound_at__gte=cutoff)
        .exclude(subscriptions__state=Subscription.State.ACTIVE)
        .exclude(
            Exists(ConsentRecord.objects.filter(citizen=OuterRef("pk"), created_at__gte=cutoff))
        )
        .exclude(Exists(Message.objects.filter(wa_id=OuterRef("wa_id"), created_at__gte=cutoff)))
        .order_by("pk")
    )
    erased = 0
    for citizen in due[:FORMER_CITIZENS_PER_RUN]:
        do_erase_citizen(citizen, channel=ConsentRecord.Channel.RETENTION, actor_name="retention")
        erased += 1
    return erased


def do_purge_bot_sessions(now: datetime | None = None) -> int:
    """Delete bot sessions expired more than ``settings.RETENTION["BOT_SESSION_DAYS"]`` ago
    (their data holds a citizen's answers of an unfinished dialogue)."""
    now = now or clock.now()
    cutoff = now - timedelta(days=settings.RETENTION["BOT_SESSION_DAYS"])
    deleted, _ = BotSession.objects.filter(expires_at__lt=cutoff).delete()
    return deleted


def _scrub_after_erasure() -> None:
    if not transaction.get_connection().in_atomic_block:
        scrub_deleted_data()


def do_erase_citizen(
    citizen: Citizen, *, channel: str, acting_user: Any = None, actor_name: str = ""
) -> None:
    """Irreversibly anonymise everything personal about ``citizen`` (DSGVO Art. 17).

    The number, the profile name and every message text go; the rows stay with a random
    pseudonym, so counts (messages, consents, subscriptions over time) keep adding up.
    """
    from townhall.whatsapp.actions import do_erase_messages

    citizen.refresh_from_db()
    if citizen.erased_at is not None:
        return
    original_wa_id = citizen.wa_id
    pseudonym = f"erased-{uuid.uuid4().hex[:20]}"
    with transaction.atomic():
        citizen = Citizen.objects.select_for_update().get(pk=citizen.pk)
        do_withdraw_subscriptions(citizen, channel=channel, acting_user=acting_user)
        BotSession.objects.filter(citizen=citizen).delete()
        do_erase_messages(original_wa_id, pseudonym)
        for handler in settings.CITIZEN_ERASURE_HANDLERS:
            import_string(handler)(citizen, pseudonym)
        citizen.wa_id = pseudonym
        citizen.profile_name = ""
        citizen.erased_at = clock.now()
        # Signed links die with the data (they are refused for erased citizens anyway).
        citizen.link_generation += 1
        citizen.save(update_fields=["wa_id", "profile_name", "erased_at", "link_generation"])
        _record(citizen, ConsentRecord.Kind.ERASED, channel=channel, acting_user=acting_user)
        do_audit(
            AuditAction.CITIZEN_ERASED,
            acting_user=acting_user,
            target=citizen,
            details={"channel": channel},
            actor_name=actor_name or ("" if acting_user is not None else "citizen"),
        )
        # After the commit: no readable copy left in SQLite's write-ahead log either.
        transaction.on_commit(_scrub_after_erasure)
