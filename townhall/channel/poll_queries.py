"""What staff read about a poll: the results (one aggregate query) and the answers for the
CSV export, which carries no phone number, name or citizen id."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Count
from django.utils import timezone

from townhall.channel.models import Poll, PollAnswer, PollOption, poll_text
from townhall.citizens.models import Citizen


@dataclass(frozen=True)
class OptionResult:
    position: int
    title: str
    count: int
    # Whole percent of all answers (0 when nobody answered).
    percent: int
    # The English title ("" = the German one).
    title_en: str = ""

    def title_in(self, language: str) -> str:
        return poll_text(self.title, self.title_en, language)


@dataclass(frozen=True)
class PollResults:
    total: int
    rows: tuple[OptionResult, ...]
    # How many answers were changed at least once.
    changed: int


def poll_results(poll: Poll) -> PollResults:
    """Counts per option in the options' order; two queries (options, one aggregate)."""
    options = list(PollOption.objects.filter(poll=poll).order_by("position"))
    counts = dict(
        PollAnswer.objects.filter(poll=poll)
        .values_list("option_id")
        .annotate(count=Count("id"))
        .values_list("option_id", "count")
    )
    changed = PollAnswer.objects.filter(poll=poll, changes__gt=0).count()
    total = sum(counts.values())
    rows = tuple(
        OptionResult(
            position=option.position,
            title=option.title,
            title_en=option.title_en,
            count=counts.get(option.pk, 0),
            percent=round(100 * counts.get(option.pk, 0) / total) if total else 0,
        )
        for option in options
    )
    return PollResults(total=total, rows=rows, changed=changed)


CSV_HEADER = ("option_number", "option", "answered_at", "first_answered_at", "changes", "language")


def _local(value: datetime) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds")


def answer_rows(poll: Poll) -> Iterator[tuple[str, ...]]:
    """One row per answer, oldest first: option, when (city time), how often changed,
    language. Streams from the database in chunks."""
    answers = (
        PollAnswer.objects.filter(poll=poll)
        .order_by("first_answered_at", "pk")
        .values_list(
            "option__position",
            "option__title",
            "answered_at",
            "first_answered_at",
            "changes",
            "language",
        )
    )
    for position, title, answered_at, first_answered_at, changes, language in answers.iterator(
        chunk_size=2000
    ):
        yield (
            str(position),
            title,
            _local(answered_at),
            _local(first_answered_at),
            str(changes),
            language,
        )


def citizen_poll_export(citizen: Citizen) -> dict[str, Any]:
    """The polls' part of a citizen's data export (``CITIZEN_EXPORT_HANDLERS``): each of
    their answers with the question, in the language they answered in (as they saw it).
    One query."""
    answers = PollAnswer.objects.filter(citizen=citizen).select_related("poll", "option")
    return {
        "poll_answers": [
            {
                "question": answer.poll.question_in(answer.language),
                "option": f"{answer.option.position}. {answer.option.title_in(answer.language)}",
                "language": answer.language,
                "first_answered_at": answer.first_answered_at.astimezone(UTC).isoformat(),
                "answered_at": answer.answered_at.astimezone(UTC).isoformat(),
                "changes": answer.changes,
            }
            for answer in answers.order_by("pk")
        ]
    }
