"""The shared inbox pages: parse the request, check access, call one action or query, render.

Mutations are small POST endpoints. An htmx request gets the fragment that changed (and, out
of band, the parts that depend on it); a plain form post is redirected to the conversation
(post/redirect/get), with problems shown as flash messages.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from townhall.inbox import queries
from townhall.inbox.access import access_conversation, access_inbox
from townhall.inbox.actions import (
    REACTION_CHOICES,
    InvalidInboxInput,
    OutsideServiceWindow,
    do_add_note,
    do_assign,
    do_mark_read,
    do_react,
    do_reply,
    do_send_choices,
    do_send_reengagement_template,
    do_set_labels,
    do_set_priority,
    do_set_state,
    render_reply,
    reply_counter_rule,
)
from townhall.inbox.forms import (
    AssignForm,
    ChoicesForm,
    LabelsForm,
    ListFilterForm,
    NoteForm,
    PreviewForm,
    PriorityForm,
    ReactForm,
    ReplyForm,
    StateForm,
)
from townhall.inbox.models import Conversation
from townhall.web.http import HtmxHttpRequest, staff_login_required
from townhall.whatsapp.models import Message
from townhall.whatsapp.outbound import InvalidOutboundMessage
from townhall.whatsapp.policy import SendRefused
from townhall.whatsapp.service_window import (
    is_within_service_window,
    service_window_closes_at,
)

logger = logging.getLogger(__name__)

# --- the list -----------------------------------------------------------------------------------


def _list_page(request: HtmxHttpRequest, form: ListFilterForm) -> tuple[queries.ListPage, int]:
    return (
        queries.conversations_page(request.user, form.filters(), form.page_number()),
        queries.unread_total(),
    )


def _list_context(
    request: HtmxHttpRequest, form: ListFilterForm, page: queries.ListPage, unread: int
) -> dict[str, Any]:
    filters = form.filters()
    version = queries.list_version(page, unread)
    return {
        "filters": filters,
        "page": page,
        "list_query": urlencode(filters.params()),
        "poll_query": urlencode({**filters.params(), "page": page.number, "version": version}),
        "sidebar": queries.sidebar_counts(request.user, filters.view),
        "choices": queries.list_choices(),
        # Already counted for the version; overrides the context processor's query.
        "inbox_unread_count": unread,
    }


@staff_login_required
@require_GET
def conversation_list(request: HtmxHttpRequest) -> HttpResponse:
    access_inbox(request.user)
    form = ListFilterForm(request.GET)
    context = _list_context(request, form, *_list_page(request, form))
    if request.htmx and request.htmx.target == "inbox-list":
        # Search as you type: the list, and the sidebar whose links carry the search.
        return render(request, "inbox/_list_update.html", context)
    return render(request, "inbox/list.html", context)


@staff_login_required
@require_GET
def conversation_list_poll(request: HtmxHttpRequest) -> HttpResponse:
    """The list fragment the list page polls; 204 while nothing changed."""
    access_inbox(request.user)
    form = ListFilterForm(request.GET)
    page, unread = _list_page(request, form)
    if request.GET.get("version") == queries.list_version(page, unread):
        return HttpResponse(status=204)
    return render(request, "inbox/_list_update.html", _list_context(request, form, page, unread))


# --- one conversation ---------------------------------------------------------------------------


def _history_context(conversation: Conversation, version: str | None = None) -> dict[str, Any]:
    if version is None:
        version = queries.history_version(conversation)
    last_inbound_at = conversation.last_inbound_at
    is_within_window = is_within_service_window(last_inbound_at)
    return {
        "conversation": conversation,
        "history": queries.conversation_history(conversation),
        "history_version": version,
        "is_within_window": is_within_window,
        "window_closes_at": service_window_closes_at(last_inbound_at),
        # Reactions are messages too: only while the window is open.
        "react_url": reverse("inbox:react", args=[conversation.pk]) if is_within_window else "",
        "reaction_choices": REACTION_CHOICES,
    }


def _composer_context(
    conversation: Conversation, staff_user: Any, form: ReplyForm | None = None, **extra: Any
) -> dict[str, Any]:
    is_within_window = is_within_service_window(conversation.last_inbound_at)
    counter_rule = reply_counter_rule(conversation, staff_user=staff_user)
    return {
        "conversation": conversation,
        "is_within_window": is_within_window,
        "template_sent_at": None
        if is_within_window
        else queries.reengagement_sent_at(conversation),
        "reply_form": form or ReplyForm(),
        "counter_rule": counter_rule,
        "counter_fill_json": json.dumps(counter_rule["fill"], ensure_ascii=False),
        "choices_form": extra.pop("choices_form", None) or ChoicesForm(initial={"kind": "buttons"}),
        "canned_responses": queries.canned_responses(),
        **extra,
    }


def _panel_context(conversation: Conversation, **extra: Any) -> dict[str, Any]:
    return {
        "conversation": conversation,
        "choices": queries.panel_choices(conversation),
        "states": Conversation.State,
        "priorities": Conversation.Priority,
        "note_form": NoteForm(),
        **extra,
    }


def _mark_read(conversation: Conversation, user: Any) -> None:
    if conversation.unread_count:
        do_mark_read(conversation, acting_user=user)
        conversation.unread_count = 0


@staff_login_required
@require_GET
def conversation_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = access_conversation(request.user, pk)
    _mark_read(conversation, request.user)
    list_query = urlencode(ListFilterForm(request.GET).filters().params())
    context = {
        **_history_context(conversation),
        **_composer_context(conversation, request.user),
        **_panel_context(conversation),
        "back_url": reverse("inbox:list") + (f"?{list_query}" if list_query else ""),
    }
    return render(request, "inbox/conversation.html", context)


@staff_login_required
@require_GET
def conversation_history(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The history fragment the conversation page polls; 204 while nothing changed.

    When the 24-hour window opened or closed since the page was drawn, the composer is
    replaced too (out of band).
    """
    conversation = access_conversation(request.user, pk)
    version = queries.history_version(conversation)
    if request.GET.get("version") == version:
        return HttpResponse(status=204)
    # The page is visible (it only polls then): the staff member sees the new messages.
    _mark_read(conversation, request.user)
    context = _history_context(conversation, version)
    if request.GET.get("window") != ("1" if context["is_within_window"] else "0"):
        context.update(_composer_context(conversation, request.user), composer_changed=True)
    return render(request, "inbox/_history_update.html", context)


# --- writing ------------------------------------------------------------------------------------


def _conversation_url(conversation: Conversation, anchor: str = "") -> str:
    url = reverse("inbox:conversation", args=[conversation.pk])
    return f"{url}#{anchor}" if anchor else url


def _after_message(request: HtmxHttpRequest, conversation: Conversation) -> HttpResponse:
    """After a reply or template: a fresh composer, the history and the panel (the state
    moved to "waiting")."""
    if not request.htmx:
        return redirect(_conversation_url(conversation, "composer"))
    conversation = access_conversation(request.user, conversation.pk)
    context = {
        **_history_context(conversation),
        **_composer_context(conversation, request.user, autofocus=True),
        **_panel_context(conversation),
    }
    return render(request, "inbox/_message_sent.html", context)


def _composer_problem(
    request: HtmxHttpRequest, conversation: Conversation, form: ReplyForm, **extra: Any
) -> HttpResponse:
    if not request.htmx:
        for error in [*form.errors.get("text", []), extra.get("composer_error")]:
            if error:
                messages.error(request, str(error))
        return redirect(_conversation_url(conversation, "composer"))
    return render(
        request,
        "inbox/_composer.html",
        _composer_context(conversation, request.user, form, **extra),
    )


@staff_login_required
@require_POST
def reply(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = access_conversation(request.user, pk)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        return _composer_problem(request, conversation, form)
    try:
        do_reply(conversation, form.cleaned_data["text"], acting_user=request.user)
    except OutsideServiceWindow:
        return _composer_problem(
            request,
            conversation,
            form,
            refused_text=form.cleaned_data["text"],
            composer_error=_(
                "Not sent: the citizen's last message is more than 24 hours old. Send the "
                "template first; you can answer freely as soon as the citizen replies."
            ),
        )
    except InvalidInboxInput as error:
        form.add_error("text", str(error))
        return _composer_problem(request, conversation, form)
    except InvalidOutboundMessage as error:
        # The reason is a developer's English sentence: log it, tell staff in their language.
        logger.warning("inbox.reply_invalid conversation=%s reason=%s", conversation.pk, error)
        form.add_error(
            "text",
            _(
                "WhatsApp would not accept this message, so nothing was sent. Please check the text."
            ),
        )
        return _composer_problem(request, conversation, form)
    except SendRefused:
        form.add_error("text", _not_subscribed_message())
        return _composer_problem(request, conversation, form)
    return _after_message(request, conversation)


@staff_login_required
@require_POST
def send_choices(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Reply buttons or a list from the composer."""
    conversation = access_conversation(request.user, pk)
    form = ChoicesForm(request.POST)
    if not form.is_valid():
        return _choices_problem(request, conversation, form)
    try:
        do_send_choices(
            conversation,
            form.cleaned_data["text"],
            form.cleaned_data["choice_list"],
            as_list=form.cleaned_data["kind"] == ChoicesForm.KIND_LIST,
            list_button=form.cleaned_data.get("list_button", ""),
            acting_user=request.user,
        )
    except OutsideServiceWindow:
        return _choices_problem(
            request,
            conversation,
            form,
            composer_error=_(
                "Not sent: the citizen's last message is more than 24 hours old. Send the "
                "template first; you can answer freely as soon as the citizen replies."
            ),
        )
    except (InvalidInboxInput, InvalidOutboundMessage) as error:
        form.add_error(
            None, _("WhatsApp does not accept this message: %(reason)s") % {"reason": error}
        )
        return _choices_problem(request, conversation, form)
    except SendRefused:
        form.add_error(None, _not_subscribed_message())
        return _choices_problem(request, conversation, form)
    return _after_message(request, conversation)


def _choices_problem(
    request: HtmxHttpRequest, conversation: Conversation, form: ChoicesForm, **extra: Any
) -> HttpResponse:
    if not request.htmx:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        if extra.get("composer_error"):
            messages.error(request, str(extra["composer_error"]))
        return redirect(_conversation_url(conversation, "composer"))
    return render(
        request,
        "inbox/_composer.html",
        _composer_context(
            conversation, request.user, choices_form=form, choices_open=True, **extra
        ),
    )


@staff_login_required
@require_POST
def react(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The city's reaction on a citizen's message (or its removal)."""
    conversation = access_conversation(request.user, pk)
    form = ReactForm(request.POST)
    problem = ""
    if form.is_valid():
        message = Message.objects.filter(pk=form.cleaned_data["message"]).first()
        try:
            if message is None:
                raise InvalidInboxInput(_("You can only react to a message of this citizen."))
            do_react(conversation, message, form.cleaned_data["emoji"], acting_user=request.user)
        except InvalidInboxInput as error:
            problem = str(error)
        except OutsideServiceWindow:
            problem = _(
                "Not sent: the citizen's last message is more than 24 hours old, and WhatsApp "
                "only delivers reactions inside that window."
            )
        except SendRefused:
            problem = _not_subscribed_message()
    else:
        problem = _("This reaction is not offered.")
    if not request.htmx:
        if problem:
            messages.error(request, problem)
        return redirect(_conversation_url(conversation))
    conversation = access_conversation(request.user, conversation.pk)
    return render(
        request, "inbox/_history.html", {**_history_context(conversation), "problem": problem}
    )


def _not_subscribed_message() -> str:
    return _(
        "This citizen has not subscribed to the chat (or has left it), so we may not "
        "write to them. Nothing was sent."
    )


@staff_login_required
@require_POST
def send_template(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = access_conversation(request.user, pk)
    try:
        do_send_reengagement_template(conversation, acting_user=request.user)
    except SendRefused:
        return _composer_problem(
            request, conversation, ReplyForm(), composer_error=_not_subscribed_message()
        )
    return _after_message(request, conversation)


@staff_login_required
@require_POST
def preview(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The reply as the citizen will get it: placeholders filled in, signature added."""
    conversation = access_conversation(request.user, pk)
    form = PreviewForm(request.POST)
    text = form.cleaned_data["text"] if form.is_valid() else ""
    rendered = (
        render_reply(text, conversation=conversation, staff_user=request.user) if text else ""
    )
    return render(request, "inbox/_preview.html", {"preview": rendered})


@staff_login_required
@require_POST
def add_note(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = access_conversation(request.user, pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            note = do_add_note(conversation, form.cleaned_data["text"], acting_user=request.user)
        except InvalidInboxInput as error:
            form.add_error("text", str(error))
        else:
            if not request.htmx:
                return redirect(_conversation_url(conversation, f"note-{note.pk}"))
            context = {**_history_context(conversation), "note_form": NoteForm()}
            return render(request, "inbox/_note_added.html", context)
    if not request.htmx:
        for problem in form.errors.get("text", []):
            messages.error(request, str(problem))
        return redirect(_conversation_url(conversation, "note-form"))
    return render(
        request, "inbox/_note_form.html", {"conversation": conversation, "note_form": form}
    )


# --- organising ---------------------------------------------------------------------------------


def _after_panel_change(
    request: HtmxHttpRequest, conversation: Conversation, form: Any
) -> HttpResponse:
    """The panel again, freshly loaded; a form error (a tampered value) shown in it."""
    error = _("That did not work: the choice is no longer available.") if form.errors else ""
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(_conversation_url(conversation, "panel"))
    conversation = access_conversation(request.user, conversation.pk)
    return render(request, "inbox/_panel.html", _panel_context(conversation, panel_error=error))


@staff_login_required
@require_POST
def assign(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = access_conversation(request.user, pk)
    form = AssignForm(request.POST)
    if form.is_valid():
        do_assign(
            conversation,
            assignee=form.cleaned_data["assignee"],
            team=form.cleaned_data["team"],
            acting_user=request.user,
        )
    return _after_panel_change(request, conversation, form)


@staff_login_required
@require_POST
def set_state(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = access_conversation(request.user, pk)
    form = StateForm(request.POST)
    if form.is_valid():
        do_set_state(conversation, form.cleaned_data["state"], acting_user=request.user)
    return _after_panel_change(request, conversation, form)


@staff_login_required
@require_POST
def set_priority(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = access_conversation(request.user, pk)
    form = PriorityForm(request.POST)
    if form.is_valid():
        do_set_priority(conversation, form.cleaned_data["priority"], acting_user=request.user)
    return _after_panel_change(request, conversation, form)


@staff_login_required
@require_POST
def set_labels(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = access_conversation(request.user, pk)
    form = LabelsForm(request.POST)
    if form.is_valid():
        do_set_labels(conversation, list(form.cleaned_data["labels"]), acting_user=request.user)
    return _after_panel_change(request, conversation, form)
