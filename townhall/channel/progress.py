"""How far a post has got: one aggregate query over its deliveries and their messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import BooleanField, Case, Count, Value, When

from townhall.channel.models import Post, PostDelivery
from townhall.core import clock
from townhall.whatsapp.actions import EXPIRED_TITLE
from townhall.whatsapp.models import Message

S = Message.Status
# A queued message due later than this waits for a later day (retries and the pair limit
# wait seconds to minutes).
LATER_THAN = timedelta(hours=1)
# Each delivery is in exactly one bucket, by its message's current status.
_BUCKETS: dict[str, str] = {
    S.QUEUED: "queued",
    S.HELD: "held",
    S.SENDING: "sending",
    S.UNCONFIRMED: "sending",
    S.ACCEPTED: "sent",
    S.SENT: "sent",
    S.DELIVERED: "delivered",
    S.READ: "read",
    S.PLAYED: "read",
    S.FAILED: "failed",
    S.CANCELLED: "cancelled",
}


@dataclass(frozen=True)
class PostProgress:
    # Citizens the post was queued for (one delivery each).
    audience: int = 0
    free_text: int = 0
    as_template: int = 0
    # Not yet handed over to Meta.
    queued: int = 0
    # Paused: waiting for resume.
    held: int = 0
    # Queued for a later day: over today's messaging limit (part of ``queued``).
    waiting_for_limit: int = 0
    sending: int = 0
    # Handed over; Meta has not (yet) reported delivery.
    sent: int = 0
    delivered: int = 0
    # Read (includes played voice messages).
    read: int = 0
    failed: int = 0
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    # Not sent: the post was cancelled or the citizen withdrew consent in the meantime.
    cancelled: int = 0
    # Not sent: the post's validity ended before it could be handed over.
    expired: int = 0
    # Window closed and no approved template: nothing queued for them.
    skipped_without_template: int = 0

    @property
    def waiting(self) -> int:
        return self.queued + self.held + self.sending

    @property
    def handed_over(self) -> int:
        return self.sent + self.delivered + self.read + self.failed

    @property
    def reached(self) -> int:
        """Delivered to the phone (read ones included)."""
        return self.delivered + self.read


def post_progress(post: Post) -> PostProgress:
    """The post's numbers now; one query, whatever the audience."""
    counts: dict[str, int] = {}
    failed_by_reason: dict[str, int] = {}
    kinds = {"free_text": 0, "as_template": 0}
    later = clock.now() + LATER_THAN
    rows = (
        PostDelivery.objects.filter(post=post)
        .annotate(
            is_later=Case(
                When(message__next_attempt_at__gt=later, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        .values("as_template", "message__status", "message__error_title", "is_later")
        .annotate(count=Count("pk"))
        .order_by()
    )
    for row in rows:
        count = row["count"]
        kinds["as_template" if row["as_template"] else "free_text"] += count
        bucket = _BUCKETS.get(row["message__status"], "cancelled")
        if bucket == "cancelled" and row["message__error_title"] == EXPIRED_TITLE:
            bucket = "expired"
        counts[bucket] = counts.get(bucket, 0) + count
        if bucket == "queued" and row["is_later"]:
            counts["waiting_for_limit"] = counts.get("waiting_for_limit", 0) + count
        if bucket == "failed":
            reason = row["message__error_title"] or "unknown error"
            failed_by_reason[reason] = failed_by_reason.get(reason, 0) + count
    return PostProgress(
        audience=sum(count for bucket, count in counts.items() if bucket != "waiting_for_limit"),
        failed_by_reason=failed_by_reason,
        skipped_without_template=post.skipped_without_template,
        **kinds,
        **counts,
    )
