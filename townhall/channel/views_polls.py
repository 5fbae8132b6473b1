"""A post's poll for staff: live results (``/kanal/<id>/umfrage/``, whose fragment
``ergebnis/`` the page polls every two seconds), the CSV of the answers without phone
numbers, closing the poll and sending the results to the participants."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from townhall.channel import poll_actions, poll_queries
from townhall.channel.access import (
    access_post,
    access_post_for_approval,
    access_post_for_sending_control,
    can_approve,
    can_send_urgent,
)
from townhall.channel.actions import PostActionRefused
from townhall.channel.models import Poll, Post
from townhall.channel.poll_actions import ANSWERABLE_STATES
from townhall.core import clock
from townhall.web.http import HtmxHttpRequest, staff_login_required

RESULTS_POLL_SECONDS = 2


def _poll_of(post: Post) -> Poll:
    poll = Poll.objects.filter(post=post).first()
    if poll is None:
        raise Http404(_("This post has no poll."))
    return poll


def _results_context(post: Post, poll: Poll, user: Any) -> dict[str, Any]:
    now = clock.now()
    is_closed = poll.is_closed_at(now)
    return {
        "post": post,
        "poll": poll,
        "results": poll_queries.poll_results(poll),
        "is_closed": is_closed,
        "is_live": post.state in ANSWERABLE_STATES and not is_closed,
        "poll_seconds": RESULTS_POLL_SECONDS,
        "can_close": not is_closed
        and post.state in ANSWERABLE_STATES
        and (can_approve(user) or can_send_urgent(user)),
        "can_send_results": is_closed and poll.results_sent_at is None and can_approve(user),
        "can_reopen": is_closed
        and poll.results_sent_at is None
        and post.state in ANSWERABLE_STATES
        and (can_approve(user) or can_send_urgent(user)),
    }


@staff_login_required
@require_GET
def poll_results(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    post = access_post(request.user, post_id)
    context = _results_context(post, _poll_of(post), request.user)
    return render(request, "channel/poll.html", context)


@staff_login_required
@require_GET
def poll_results_fragment(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    """The results the page polls; without a poll trigger once the poll is closed."""
    post = access_post(request.user, post_id)
    context = _results_context(post, _poll_of(post), request.user)
    return render(request, "channel/_poll_results.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


@staff_login_required
@require_GET
def poll_answers_csv(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    """Every answer (option, when, changes, language); no number, name or citizen id."""
    post = access_post(request.user, post_id)
    poll = _poll_of(post)
    writer = csv.writer(_Echo())

    def lines() -> Any:
        yield writer.writerow(poll_queries.CSV_HEADER)
        for row in poll_queries.answer_rows(poll):
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="umfrage-{post.pk}.csv"'
    return response  # type: ignore[return-value]  # streamed: the answers may be many


def _run(request: HtmxHttpRequest, post: Post, step: Any, success: str) -> HttpResponse:
    try:
        outcome = step(post, actor=request.user)
    except PostActionRefused as refusal:
        messages.error(request, refusal.message)
    else:
        if isinstance(outcome, poll_actions.ResultsSent) and outcome.skipped:
            success += " " + _(
                "%(skipped)d participants could not be reached (their 24-hour window is "
                "closed and there is no approved results template)."
            ) % {"skipped": outcome.skipped}
        messages.success(request, success)
    return redirect("channel:poll", post.pk)


@staff_login_required
@require_POST
def close_poll(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    post = access_post_for_sending_control(request.user, post_id)
    return _run(request, post, poll_actions.do_close_poll, _("The poll is closed."))


@staff_login_required
@require_POST
def reopen_poll(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    post = access_post_for_sending_control(request.user, post_id)
    return _run(request, post, poll_actions.do_reopen_poll, _("The poll is open again."))


@staff_login_required
@require_POST
def send_poll_results(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    post = access_post_for_approval(request.user, post_id)
    return _run(
        request,
        post,
        poll_actions.do_send_poll_results,
        _("The results are being sent to the participants."),
    )
